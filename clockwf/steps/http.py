"""``http`` steps, and the one function that sends an HTTP request by the step rules.

:func:`send_http` is what an ``http`` step and anything else in clockwf that calls out (a
webhook) use: ``${env:NAME}`` in the url and headers resolved when the request is sent and masked
in everything it returns, TLS verified (the default context, or a CA bundle), an overall
timeout, a 2xx needed, and these redirect rules:

- 307 and 308 are followed with the method and body kept;
- 301, 302 and 303 are followed only by a request without a body (a GET); a request with a body
  fails, naming the status and where it pointed, rather than being resent as a GET without it;
- at most :data:`REDIRECT_LIMIT` redirects; only to http and https, never from https to http;
- once a redirect leaves the original origin (scheme, host and port), ``Authorization``,
  ``Proxy-Authorization``, ``Cookie`` and every header whose value came from ``${env:NAME}``
  are dropped.
"""

from __future__ import annotations

import http.client
import os
import ssl
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import SplitResult, urljoin, urlsplit

from clockwf.steps.common import (
    FAILED,
    OUTPUT_LIMIT,
    POLL_MAX,
    READ_SIZE,
    SUCCEEDED,
    TIMED_OUT,
    OutputTail,
    StepControl,
    StepOutcome,
    elapsed_ms,
    log,
    seconds_text,
)
from clockwf.steps.env import MissingVariable, Secrets, has_refs, resolve_refs

DEFAULT_TIMEOUT = 30.0
REDIRECT_LIMIT = 5
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})

Verify = bool | str   # True: the default CAs; a path: that CA bundle; False: no verification


@dataclass(frozen=True)
class HttpRequest:
    url: str                        # resolved
    method: str
    headers: Mapping[str, str]      # resolved
    body: bytes | None
    timeout: float
    label: str                      # the url template, for messages (never the resolved url)
    secret_headers: frozenset[str] = frozenset()  # lower-case names of ${env:}-bearing headers


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Hands every redirect back as an answer: :func:`_exchange` follows them by its rules."""

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        return None


def build_opener(verify: Verify = True) -> urllib.request.OpenerDirector:
    """urllib with certificate verification and without its own redirect handling."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif isinstance(verify, str):
        context = ssl.create_default_context(cafile=verify)
    else:
        context = ssl.create_default_context()
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=context),
                                       _NoRedirects())


def user_agent() -> str:
    from clockwf import __version__

    return f"clockwf/{__version__}"


def send_http(method: str, url: str, *, headers: Mapping[str, str] | None = None,
              body: bytes | None = None, timeout: float = DEFAULT_TIMEOUT,
              environ: Mapping[str, str] | None = None, verify: Verify = True,
              control: StepControl | None = None, output_limit: int = OUTPUT_LIMIT,
              where: str = "http",
              opener: urllib.request.OpenerDirector | None = None) -> StepOutcome:
    """Send one request by the step rules and report it as a :class:`StepOutcome` (succeeded
    on a 2xx; ``output`` is the tail of the answer's body; ``output`` and ``error`` masked).

    ``url`` and the values of ``headers`` may hold ``${env:NAME}``, resolved from ``environ``
    (default: the process environment) now; a missing variable gives a failed outcome with
    ``retryable=False`` naming ``where`` (e.g. ``steps[0].http.headers.Authorization``).
    ``User-Agent`` defaults to ``clockwf/VERSION``. ``timeout`` bounds the whole exchange,
    redirects included; ``control`` lets another thread end it early. Never raises for a
    failure of the request itself.
    """
    secrets = Secrets()
    source = os.environ if environ is None else environ
    try:
        resolved_url = resolve_refs(url, f"{where}.url", source, secrets)
        resolved = {"User-Agent": user_agent()}
        secret_names: set[str] = set()
        for name, template in (headers or {}).items():
            for other in [n for n in resolved if n.lower() == name.lower()]:
                del resolved[other]
            resolved[name] = resolve_refs(template, f"{where}.headers.{name}", source, secrets)
            if has_refs(template):
                secret_names.add(name.lower())
    except MissingVariable as exc:
        return StepOutcome(FAILED, 0, error=exc.message, retryable=False)
    request = HttpRequest(resolved_url, method.upper(), resolved, body, timeout, url,
                          frozenset(secret_names))
    return run_http(request, control or StepControl(), output_limit=output_limit,
                    opener=opener or build_opener(verify), redact=secrets.redact)


@dataclass
class _HttpResult:
    done: threading.Event = field(default_factory=threading.Event)
    abandoned: bool = False
    status: int | None = None
    reason: str = ""
    error: str | None = None        # the request failed (no status, or a broken body)
    refused: str | None = None      # a redirect that was not followed: why
    timed_out: bool = False


def _describe(exc: BaseException, label: str) -> tuple[str, bool]:
    """(message, timed out) for a failed request."""
    if isinstance(exc, TimeoutError):
        return f"no answer from {label} in time", True
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return f"no answer from {label} in time", True
        if isinstance(reason, ssl.SSLCertVerificationError):
            return (f"TLS certificate verification failed for {label}: "
                    f"{reason.verify_message or reason}"), False
        if isinstance(reason, OSError) and reason.strerror:
            return f"cannot reach {label}: {reason.strerror}", False
        return f"cannot reach {label}: {reason}", False
    if isinstance(exc, ssl.SSLError):
        return f"TLS error with {label}: {exc.reason or exc}", False
    if isinstance(exc, http.client.HTTPException):
        return f"bad HTTP answer from {label}: {type(exc).__name__} {exc}".rstrip(), False
    if isinstance(exc, ValueError):
        return f"invalid request to {label}: {exc}", False
    if isinstance(exc, OSError):
        return f"request to {label} failed: {exc.strerror or exc}", False
    return f"request to {label} failed: {type(exc).__name__}: {exc}", False


def _origin(parts: SplitResult) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in."""
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def _refusal(status: int, method: str, has_body: bool, current: str, target: str,
             hops: int) -> str | None:
    """Why the redirect from ``current`` to ``target`` is not followed; None: follow it."""
    why: str | None = None
    old, new = urlsplit(current), urlsplit(target)
    try:
        _ = new.port  # raises on a port that is not a number in range
    except ValueError:
        why = "its port is not valid"
    scheme = new.scheme.lower()
    if why is None and scheme not in ("http", "https"):
        why = f"only http and https are followed, not {scheme or 'a relative scheme'}"
    elif why is None and old.scheme.lower() == "https" and scheme == "http":
        why = "a redirect from https to http is not followed"
    elif why is None and has_body and status in (301, 302, 303):
        why = (f"following a {status} would resend the {method} as a GET without its body; "
               "only 307 and 308 keep the method and body")
    elif why is None and hops >= REDIRECT_LIMIT:
        why = f"more than {REDIRECT_LIMIT} redirects"
    if why is None:
        return None
    return f"refused the HTTP {status} redirect to {target}: {why}"


def _strip_headers(headers: dict[str, str], secret: frozenset[str]) -> None:
    for name in list(headers):
        if name.lower() in CREDENTIAL_HEADERS or name.lower() in secret:
            del headers[name]


def _exchange(request: HttpRequest, opener: urllib.request.OpenerDirector,
              tail: OutputTail, result: _HttpResult) -> None:
    """Send ``request``, follow its redirects by the rules, and read the last answer."""
    url, method, body = request.url, request.method, request.body
    headers = dict(request.headers)
    origin = _origin(urlsplit(url))
    hops = 0
    while True:
        req = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            response: Any = opener.open(req, timeout=request.timeout)
        except urllib.error.HTTPError as exc:
            response = exc
        with response:
            status = int(getattr(response, "status", None) or response.code)
            location = response.headers.get("Location") if status in REDIRECT_STATUSES else None
            target = urljoin(url, location) if location else None
            if target is not None and not result.abandoned:
                result.refused = _refusal(status, method, body is not None, url, target, hops)
            if target is None or result.refused is not None or result.abandoned:
                result.status = status
                result.reason = str(getattr(response, "reason", "") or "")
                while not result.abandoned:
                    chunk = response.read(READ_SIZE)
                    if not chunk:
                        break
                    tail.feed(chunk)
                return
        hops += 1
        if status == 303 and method != "HEAD":
            method = "GET"
        if _origin(urlsplit(target)) != origin:
            _strip_headers(headers, request.secret_headers)
        url = target


def _http_worker(request: HttpRequest, opener: urllib.request.OpenerDirector,
                 tail: OutputTail, result: _HttpResult, redact: Callable[[str], str]) -> None:
    try:
        _exchange(request, opener, tail, result)
    except (OSError, ValueError, http.client.HTTPException) as exc:  # the attempt's failure
        result.error, result.timed_out = _describe(exc, request.label)
    except Exception as exc:  # a bug: still the attempt's failure, and logged (masked)
        log.error("an HTTP request to %s failed unexpectedly: %s", request.label,
                  redact("".join(traceback.format_exception(exc)).rstrip()),
                  extra={"action": "step.http_error"})
        result.error, result.timed_out = _describe(exc, request.label)
    finally:
        result.done.set()


def run_http(request: HttpRequest, control: StepControl, *, output_limit: int = OUTPUT_LIMIT,
             opener: urllib.request.OpenerDirector | None = None,
             redact: Callable[[str], str] = str) -> StepOutcome:
    """Send one resolved request; succeed on a 2xx. The request runs in a helper thread so that
    a cancel, a stop or the overall timeout ends the attempt at once (the helper then ends by
    its socket timeout)."""
    started = time.monotonic()
    tail = OutputTail(output_limit, redact=redact)
    result = _HttpResult()
    helper = threading.Thread(target=_http_worker, name="clockwf-http", daemon=True,
                              args=(request, opener or build_opener(), tail, result, redact))
    helper.start()
    deadline = started + request.timeout
    while not result.done.wait(min(POLL_MAX, max(deadline - time.monotonic(), 0))):
        reason = control.reason
        if reason is not None:
            result.abandoned = True
            return StepOutcome(reason[0], elapsed_ms(started), http_status=result.status,
                               output=tail.text(), error=redact(reason[1]))
        if time.monotonic() >= deadline:
            result.abandoned = True
            return StepOutcome(TIMED_OUT, elapsed_ms(started), http_status=result.status,
                               output=tail.text(),
                               error=f"no complete answer from {request.label} within "
                                     f"{seconds_text(request.timeout)}")
    duration = elapsed_ms(started)
    output = tail.text()
    if result.status is None or result.error is not None:
        status = TIMED_OUT if result.timed_out else FAILED
        return StepOutcome(status, duration, http_status=result.status, output=output,
                           error=redact(result.error or f"no answer from {request.label}"))
    if result.refused is not None:
        return StepOutcome(FAILED, duration, http_status=result.status, output=output,
                           error=redact(f"{result.refused} (requested {request.label})"))
    if 200 <= result.status < 300:
        return StepOutcome(SUCCEEDED, duration, http_status=result.status, output=output)
    detail = f"HTTP {result.status} {result.reason}".rstrip()
    return StepOutcome(FAILED, duration, http_status=result.status, output=output,
                       error=redact(f"{detail} from {request.label} (a 2xx answer is needed)"))
