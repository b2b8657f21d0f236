"""``clockwf serve``: a FastAPI application (the API under /api/v1, the dashboard's pages),
served by uvicorn.

Who is asking is decided once per request (:func:`principal`): a ``Authorization: Bearer``
token, or the session cookie a browser got by signing in with a token, or nobody (``--no-auth``
gives everyone admin on the served namespace). The token decides the namespace: each request
works on a store confined to it, so another namespace's workflow is simply not found.
A request authenticated by the cookie and not a plain read must carry the session's CSRF token
(a form field ``csrf`` or the header ``X-CSRF-Token``).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from clockwf import tokens
from clockwf.clock import SystemClock
from clockwf.errors import (
    ClockwfError,
    DefinitionInvalid,
    InvalidInput,
    NotFound,
    Refused,
    StoreUnavailable,
)
from clockwf.store import Store, open_store
from clockwf.tokens import Principal

log = logging.getLogger("clockwf.web")

HERE = Path(__file__).parent
COOKIE = "clockwf_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# The judgement of `clockwf status` with its default thresholds.
OVERDUE_AFTER = timedelta(minutes=5)
STALE_AFTER = timedelta(minutes=5)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


class Unauthenticated(ClockwfError):
    """Sign in with a token (Authorization: Bearer, or the sign-in page)."""


class Forbidden(ClockwfError):
    """This token's scope does not allow that."""


class Web:
    """What every request needs: the stores (one per namespace, opened on first use), the
    templates, the clock, and the authentication mode."""

    def __init__(self, db: str | None, namespace: str, *, no_auth: bool,
                 now: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.namespace = namespace
        self.no_auth = no_auth
        self.now = now or SystemClock().now
        self._stores: dict[str, Store] = {}
        self._lock = threading.Lock()
        self.templates = Environment(
            loader=FileSystemLoader(str(HERE / "templates")),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True, lstrip_blocks=True)
        self.store(namespace)  # open (and create) the store now: fail at start, not later

    def store(self, namespace: str) -> Store:
        with self._lock:
            found = self._stores.get(namespace)
            if found is None:
                found = self._stores[namespace] = open_store(self.db, namespace)
            return found

    def close(self) -> None:
        with self._lock:
            for store in self._stores.values():
                store.close()
            self._stores.clear()


def web(request: Request) -> Web:
    found: Web = request.app.state.web
    return found


def session_token(request: Request) -> str | None:
    return request.cookies.get(COOKIE)


def principal(request: Request, needed: str = "read") -> Principal:
    """Who is asking, checked for ``needed`` scope and, for a cookie session's writes, CSRF."""
    w = web(request)
    cached = getattr(request.state, "principal", None)
    if cached is None:
        if w.no_auth:
            cached = Principal(w.namespace, "admin", None)
        else:
            header = request.headers.get("authorization", "")
            scheme, _, credential = header.partition(" ")
            via_cookie = False
            if scheme.lower() == "bearer" and credential.strip():
                token = credential.strip()
            else:
                token = session_token(request) or ""
                via_cookie = True
            found = tokens.authenticate(w.store(w.namespace), token) if token else None
            if found is None:
                raise Unauthenticated("a valid token is needed: send Authorization: Bearer "
                                      "TOKEN, or sign in" if token else None)
            cached = found
            request.state.via_cookie = via_cookie
        request.state.principal = cached
    if not cached.allows(needed):
        raise Forbidden(f"this token's scope is {cached.scope}; this needs {needed}")
    return cached


def check_csrf(request: Request, presented: str | None) -> None:
    """A write from a cookie session must carry that session's CSRF token."""
    if request.method in SAFE_METHODS or not getattr(request.state, "via_cookie", False):
        return
    token = session_token(request) or ""
    if not presented or presented != tokens.csrf_token(token):
        raise Forbidden("missing or wrong CSRF token: reload the page and try again")


def store_for(request: Request, needed: str = "read") -> Store:
    who = principal(request, needed)
    if needed != "read":
        check_csrf(request, request.headers.get("x-csrf-token"))
    return web(request).store(who.namespace)


STATUS_OF: list[tuple[type[ClockwfError], int]] = [
    (Unauthenticated, 401), (Forbidden, 403), (NotFound, 404), (InvalidInput, 422),
    (Refused, 409), (StoreUnavailable, 503),
]


def status_of(exc: ClockwfError) -> int:
    for kind, code in STATUS_OF:
        if isinstance(exc, kind):
            return code
    return 400


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_document(exc: ClockwfError) -> dict[str, Any]:
    doc: dict[str, Any] = {"error": exc.message}
    if isinstance(exc, DefinitionInvalid):
        doc["diagnostics"] = [d.as_dict() for d in exc.diagnostics]
    return doc


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")


def _host_name(host: str) -> str:
    return host[:host.index("]") + 1] if host.startswith("[") and "]" in host \
        else host.rsplit(":", 1)[0]


def cross_site_refusal(request: Request, *, no_auth: bool) -> str | None:
    """Why a request must be refused before it is looked at, or None.

    A write sent by a browser from another site (``Sec-Fetch-Site``, or an ``Origin`` other than
    this server) is refused whatever it carries: with ``--no-auth`` there is no cookie for
    SameSite to hold back. With ``--no-auth`` the Host must also be a loopback name, so that a
    site whose name resolves to 127.0.0.1 (DNS rebinding) reads nothing either.
    """
    host = request.headers.get("host", "")
    if no_auth and _host_name(host) not in LOOPBACK_NAMES:
        return f"--no-auth serves loopback names only, not {host!r}"
    if request.method in SAFE_METHODS:
        return None
    if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return "a write from another site is refused"
    origin = request.headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1] != host:
        return "a write from another origin is refused"
    return None


def security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"  # no-referrer would make Origin "null"
    response.headers["Cache-Control"] = "no-store"
    return response


def create_app(db: str | None, namespace: str = "default", *, no_auth: bool = False,
               now: Callable[[], datetime] | None = None) -> FastAPI:
    """The application serving one store; ``namespace`` is the one ``--no-auth`` serves."""
    from clockwf import __version__
    from clockwf.web import api, pages

    state = Web(db, namespace, no_auth=no_auth, now=now)
    app = FastAPI(lifespan=_closing(state), title="clockwf", version=__version__,
                  docs_url=None, redoc_url=None, openapi_url="/api/v1/openapi.json",
                  description="The clockwf API: the documents of `clockwf ... --format json`, "
                              "and the operator's writes. Authorization: Bearer TOKEN "
                              "(clockwf token create NAME --scope read|operate|admin).")
    app.state.web = state
    _add_error_handlers(app)
    _add_security_middleware(app, state)
    _add_monitoring_routes(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    return app


def _closing(state: Web) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The application's lifespan: when the server stops, ``state``'s stores are closed."""
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        state.close()

    return lifespan


def _add_error_handlers(app: FastAPI) -> None:
    """A clockwf error becomes a JSON error document for the API and /healthz, an error page
    elsewhere; an invalid request likewise (a JSON document for the API only)."""
    from clockwf.web import pages

    @app.exception_handler(ClockwfError)
    async def clockwf_error(request: Request, exc: ClockwfError) -> Response:
        code = status_of(exc)
        if is_api(request) or request.url.path == "/healthz":
            headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
            return security_headers(JSONResponse(error_document(exc), status_code=code,
                                                 headers=headers))
        return security_headers(pages.error_page(request, exc, code))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}"
                    for e in exc.errors()]
        doc = {"error": "invalid request: " + "; ".join(problems)}
        if is_api(request):
            return security_headers(JSONResponse(doc, status_code=422))
        return security_headers(pages.error_page(request, InvalidInput(doc["error"]), 422))


def _add_security_middleware(app: FastAPI, state: Web) -> None:
    """Every response gets the security headers; a cross-site write (or, with ``--no-auth``,
    a request to a name that is not loopback) is refused first (:func:`cross_site_refusal`)."""
    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        refusal = cross_site_refusal(request, no_auth=state.no_auth)
        if refusal is not None:
            return security_headers(JSONResponse({"error": refusal}, status_code=403))
        response: Response = await call_next(request)
        return security_headers(response)


def _add_monitoring_routes(app: FastAPI) -> None:
    """What monitors poll, outside the API's schema: /healthz (no token) and /metrics (a read
    token)."""
    @app.get("/healthz", include_in_schema=False)
    def healthz(request: Request) -> Response:
        """200 when `clockwf status` would exit 0, 503 otherwise; no token needed."""
        from clockwf.monitor import health

        w = web(request)
        report = health(w.store(w.namespace), w.now(), overdue_after=OVERDUE_AFTER,
                        stale_after=STALE_AFTER)
        return JSONResponse({"ok": report.ok}, status_code=200 if report.ok else 503)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        """The Prometheus exposition of the token's namespace, as `clockwf metrics` prints it
        (a read token: Prometheus sends it with `authorization: {credentials: ...}`)."""
        from prometheus_client import CONTENT_TYPE_LATEST

        from clockwf.notify.metrics import exposition

        w = web(request)
        return Response(exposition(store_for(request), w.now()),
                        media_type=CONTENT_TYPE_LATEST)


def serve(db: str | None, namespace: str, *, host: str, port: int, no_auth: bool,
          log_level: str = "info") -> None:
    """Run the server until SIGINT/SIGTERM (uvicorn handles both)."""
    import uvicorn

    app = create_app(db, namespace, no_auth=no_auth)
    shown = f"[{host}]" if ":" in host else host
    from clockwf import render

    render.text(f"clockwf serve: http://{shown}:{port}/ (store "
                f"{app.state.web.store(namespace).url}, "
                f"{'no sign-in, namespace ' + namespace if no_auth else 'sign in with a token'})")
    log.info("serving on %s:%s", host, port, extra={"action": "serve.started", "host": host,
                                                    "port": port, "no_auth": no_auth})
    # uvicorn stops on SIGTERM, then re-raises it to the handler it found: with this one, a
    # clean stop ends the command normally (exit 0) instead of killing the process.
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), access_log=False,
                    server_header=False)
    finally:
        signal.signal(signal.SIGTERM, previous)
