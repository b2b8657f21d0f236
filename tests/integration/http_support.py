"""A real HTTP server on 127.0.0.1 for step tests: records every request it gets and answers
from a route table (a redirect, or 200 echoing what it received)."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]         # recording_server: lower-case names
    body: bytes


@dataclass
class Recorder:
    """``routes[path] = (status, location)`` answers ``path`` with a redirect; every other path
    is answered 200 with ``method path length``."""

    url: str = ""
    requests: list[Seen] = field(default_factory=list)
    routes: dict[str, tuple[int, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seen(self) -> list[Seen]:
        with self.lock:
            return list(self.requests)


@contextmanager
def recording_server() -> Iterator[Recorder]:
    state = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with state.lock:
                state.requests.append(Seen(self.command, self.path,
                                           {k.lower(): v for k, v in self.headers.items()},
                                           body))
            route = state.routes.get(self.path.split("?")[0])
            if route is not None:
                self.send_response(route[0])
                self.send_header("Location", route[1])
                reply = b"moved"
            else:
                self.send_response(200)
                reply = f"{self.command} {self.path} {len(body)}".encode()
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serving(Handler) as url:
        state.url = url
        yield state


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], *,
            tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """``handler`` behind a threaded HTTP server on 127.0.0.1 and a free port (HTTPS with
    ``tls``), shut down when the block ends; its URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
