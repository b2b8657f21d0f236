"""``clockwf token create|list|revoke`` and ``clockwf serve``: the HTTP API and dashboard.

The web stack (the ``web`` extra) is imported by ``serve`` only, when it runs.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from clockwf import logs, render, tokens
from clockwf.cli.app import DbOpt, FormatOpt, NamespaceOpt, NowOpt, OutputFormat, app
from clockwf.clock import parse_now
from clockwf.errors import ClockwfError, InvalidInput, Refused
from clockwf.store import open_store
from clockwf.timeutil import iso_utc

token_app = typer.Typer(help="API tokens of clockwf serve: create (shown once), list, revoke.",
                        no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A name to list and revoke it by.")],
    scope: Annotated[str, typer.Option(
        "--scope", envvar="CLOCKWF_TOKEN_SCOPE",
        help="read (look), operate (run, pause, resume, emit, backfill, cancel) or admin "
             "(also publish).")] = "read",
    db: DbOpt = None, namespace: NamespaceOpt = "default", now: NowOpt = None,
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Create a token for this namespace and print it once; only its hash is stored."""
    with open_store(db, namespace) as store:
        token = tokens.create(store, name, scope, parse_now(now))
    if fmt is OutputFormat.json:
        render.emit_json({"name": name, "namespace": namespace, "scope": scope,
                          "token": token})
        return
    render.text(token)
    render.warning(f"token {name!r} ({scope}, namespace {namespace}) is shown only this once")


@token_app.command("list")
def token_list(
    db: DbOpt = None, namespace: NamespaceOpt = "default",
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """The namespace's tokens: name, scope, creation time (never the token)."""
    with open_store(db, namespace) as store:
        rows = tokens.list_tokens(store)
    docs = [{"name": r["name"], "scope": r["scope"], "created_at": iso_utc(r["created_at"])}
            for r in rows]
    if fmt is OutputFormat.json:
        render.emit_json({"tokens": docs})
        return
    render.table(None, ["name", "scope", "created"],
                 [(d["name"], d["scope"], d["created_at"]) for d in docs])


@token_app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    db: DbOpt = None, namespace: NamespaceOpt = "default",
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Delete a token: it stops working at once, in every serve process."""
    with open_store(db, namespace) as store:
        tokens.revoke(store, name)
    if fmt is OutputFormat.json:
        render.emit_json({"name": name, "revoked": True})
        return
    render.text(f"token {name!r} revoked")


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) -> (host, port)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise InvalidInput(f"--listen {text!r}: expected HOST:PORT, such as 127.0.0.1:8080")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    listen: Annotated[str, typer.Option(
        "--listen", envvar="CLOCKWF_LISTEN",
        help="HOST:PORT to serve on. A non-loopback address needs a token in the store.")
    ] = "127.0.0.1:8080",
    no_auth: Annotated[bool, typer.Option(
        "--no-auth", envvar="CLOCKWF_NO_AUTH",
        help="No sign-in; everyone gets admin on --namespace. Loopback addresses only.")
    ] = False,
    db: DbOpt = None, namespace: NamespaceOpt = "default",
    log_level: Annotated[str, typer.Option("--log-level", envvar="CLOCKWF_LOG_LEVEL",
                                           help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve the JSON API (/api/v1) and the dashboard. Signs in with tokens of
    `clockwf token create`; several serve processes may share a PostgreSQL store."""
    host, port = parse_listen(listen)
    logs.setup("human", log_level)
    if no_auth and not is_loopback(host):
        raise Refused(f"--no-auth is accepted on a loopback address only, not {host}")
    with open_store(db, namespace) as store:
        has_tokens = tokens.any_token(store)
    if not no_auth and not has_tokens and not is_loopback(host):
        raise Refused(f"refusing to serve on {host}, which is not a loopback address, while the "
                      "store holds no token: create one with `clockwf token create NAME "
                      "--scope read` first")
    try:
        from clockwf.web.app import serve as run_server
    except ImportError as exc:
        raise ClockwfError(f"the web extra is not installed ({exc.name} is missing): "
                         "pip install 'clockwf[web]'") from exc
    run_server(db, namespace, host=host, port=port, no_auth=no_auth, log_level=log_level)
