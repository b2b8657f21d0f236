"""HTTP steps against a real HTTP server on 127.0.0.1 started by the test, on both stores."""

from __future__ import annotations

import json
import logging
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from clockwf.executor import Executor
from clockwf.steps import send_http
from clockwf.store import Store

from .executor_support import attempts, make_executor, publish_def, run_row, start
from .http_support import Seen, recording_server, serving

SECRET = "tok-9f8e7d6c5b4a"
REDIRECTS = {"/redirect-ftp": "ftp://127.0.0.1/file", "/redirect-ok": "/ok"}   # path: Location


@dataclass
class Server:
    url: str
    requests: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def server() -> Iterator[Server]:
    """/ok 200 (echoes the Authorization header), /fail 500, /slow answers only when released
    (at the latest when the test ends), /redirect-ftp and /redirect-ok redirect."""
    state = Server("")

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            state.requests.append(Seen(self.command, self.path, dict(self.headers), body))
            path = self.path.split("?")[0]
            if path == "/slow":
                state.release.wait(120)
            redirect = REDIRECTS.get(path)
            if redirect is not None:
                self.send_response(302)
                self.send_header("Location", redirect)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 500 if path == "/fail" else 200
            reply = (f"status {status}; auth={self.headers.get('Authorization')}; "
                     f"got {len(body)} bytes").encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serving(Handler) as url:
        state.url = url
        try:
            yield state
        finally:
            state.release.set()


@pytest.fixture
def executor(store: Store) -> Iterator[Executor]:
    ex = make_executor(store, environ={"TOKEN": SECRET})
    yield ex
    ex.stop(0)


def http_step(url: str, **extra: Any) -> dict[str, Any]:
    step: dict[str, Any] = {"id": "call", "http": {"url": url, **extra.pop("http", {})}}
    step.update(extra)
    return step


def all_text(store: Store, run_id: int) -> list[str]:
    """Every text value stored about the run: its row and its step attempts."""
    rows = [run_row(store, run_id), *attempts(store, run_id)]
    return [value for row in rows for value in row.values() if isinstance(value, str)]


def test_post_sends_the_payload_and_headers(store: Store, executor: Executor, server: Server,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="clockwf")
    wid = publish_def(store, [http_step(
        f"{server.url}/ok", http={"headers": {"Authorization": "Bearer ${env:TOKEN}",
                                              "X-Team": "reports"}})])
    payload = {"invoice": 42, "note": "café"}
    run_id = start(store, wid, payload)
    assert executor.execute(run_id) == "succeeded"
    [req] = server.requests
    assert (req.method, req.path) == ("POST", "/ok")
    assert json.loads(req.body) == payload
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["Authorization"] == f"Bearer {SECRET}"
    assert req.headers["X-Team"] == "reports"
    assert req.headers["User-Agent"].startswith("clockwf/")
    [step] = attempts(store, run_id)
    assert (step["kind"], step["status"], step["http_status"], step["exit_code"]) == \
        ("http", "succeeded", 200, None)
    # the server echoed the token: it is masked in what is stored
    assert step["output"] == f"status 200; auth=Bearer ***; got {len(req.body)} bytes"
    for text in all_text(store, run_id):
        assert SECRET not in text
    assert all(SECRET not in r.getMessage() and SECRET not in str(r.__dict__)
               for r in caplog.records)


def test_get_sends_no_body(store: Store, executor: Executor, server: Server) -> None:
    wid = publish_def(store, [http_step(f"{server.url}/ok", http={"method": "GET"})])
    run_id = start(store, wid, {"a": 1})
    assert executor.execute(run_id) == "succeeded"
    [req] = server.requests
    assert (req.method, req.body) == ("GET", b"")
    assert "Content-Type" not in req.headers


def test_secret_in_the_url_is_never_stored(store: Store, executor: Executor,
                                           server: Server) -> None:
    wid = publish_def(store, [http_step(server.url + "/fail?key=${env:TOKEN}")])
    run_id = start(store, wid)
    assert executor.execute(run_id) == "failed"
    assert server.requests[0].path == f"/fail?key={SECRET}"
    [step] = attempts(store, run_id)
    assert step["error"] == ("HTTP 500 Internal Server Error from "
                             f"{server.url}/fail?key=${{env:TOKEN}} (a 2xx answer is needed)")
    for text in all_text(store, run_id):
        assert SECRET not in text


def test_500_fails_and_is_retried(store: Store, server: Server, executor: Executor) -> None:
    wid = publish_def(store, [http_step(f"{server.url}/fail", retries=1)])
    run_id = start(store, wid)
    assert executor.execute(run_id) == "failed"
    steps = attempts(store, run_id)
    assert [(s["attempt"], s["status"], s["http_status"]) for s in steps] == \
        [(1, "failed", 500), (2, "failed", 500)]
    assert steps[0]["output"] == "status 500; auth=None; got 2 bytes"
    assert run_row(store, run_id)["error"] == (
        f"step 'call' (1 of 1), attempt 2 of 2: HTTP 500 Internal Server Error from "
        f"{server.url}/fail (a 2xx answer is needed)")


def test_slow_answer_times_out(store: Store, server: Server, executor: Executor) -> None:
    wid = publish_def(store, [http_step(f"{server.url}/slow", timeout="1s",
                                        http={"timeout": "30s"})])
    run_id = start(store, wid)
    # /slow never answers while the step runs: only the step's 1s timeout can end it.
    assert executor.execute(run_id) == "timed_out"
    assert len(server.requests) == 1
    [step] = attempts(store, run_id)
    assert step["status"] == "timed_out"
    assert step["error"] in (f"no complete answer from {server.url}/slow within 1s",
                             f"no answer from {server.url}/slow in time")


def test_connection_refused_fails_with_a_message(store: Store, executor: Executor) -> None:
    import socket

    with socket.socket() as s:   # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    wid = publish_def(store, [http_step(f"http://127.0.0.1:{port}/x")])
    run_id = start(store, wid)
    assert executor.execute(run_id) == "failed"
    [step] = attempts(store, run_id)
    assert step["http_status"] is None
    assert step["error"] == f"cannot reach http://127.0.0.1:{port}/x: Connection refused"


def test_a_post_redirected_by_302_fails_instead_of_losing_its_body(
        store: Store, executor: Executor, server: Server) -> None:
    post = publish_def(store, [http_step(f"{server.url}/redirect-ok")])
    run_id = start(store, post, {"invoice": 7})
    assert executor.execute(run_id) == "failed"
    assert [r.path for r in server.requests] == ["/redirect-ok"]   # /ok never got a GET
    [step] = attempts(store, run_id)
    assert (step["http_status"], step["error"]) == (
        302, f"refused the HTTP 302 redirect to {server.url}/ok: following a 302 would resend "
             "the POST as a GET without its body; only 307 and 308 keep the method and body "
             f"(requested {server.url}/redirect-ok)")
    get = publish_def(store, [http_step(f"{server.url}/redirect-ok", http={"method": "GET"})])
    assert executor.execute(start(store, get)) == "succeeded"
    assert [(r.method, r.path) for r in server.requests[1:]] == [("GET", "/redirect-ok"),
                                                                 ("GET", "/ok")]
    ftp = publish_def(store, [http_step(f"{server.url}/redirect-ftp", http={"method": "GET"})])
    run_id = start(store, ftp)
    assert executor.execute(run_id) == "failed"
    [step] = attempts(store, run_id)
    assert (step["http_status"], step["error"]) == (
        302, "refused the HTTP 302 redirect to ftp://127.0.0.1/file: only http and https are "
             f"followed, not ftp (requested {server.url}/redirect-ftp)")


def test_a_307_to_another_host_keeps_the_body_and_drops_the_secrets(
        store: Store, executor: Executor) -> None:
    with recording_server() as a, recording_server() as b:
        a.routes["/hook"] = (307, f"{b.url}/final")
        wid = publish_def(store, [http_step(
            f"{a.url}/hook", http={"method": "PATCH", "headers": {
                "Authorization": "Bearer ${env:TOKEN}", "X-Team": "reports"}})])
        payload = {"invoice": 42, "note": "café"}
        run_id = start(store, wid, payload)
        assert executor.execute(run_id) == "succeeded"
        [first], [final] = a.seen(), b.seen()
    assert first.headers["authorization"] == f"Bearer {SECRET}"
    assert (final.method, final.path, json.loads(final.body)) == ("PATCH", "/final", payload)
    assert "authorization" not in final.headers
    assert final.headers["x-team"] == "reports"
    [step] = attempts(store, run_id)
    assert (step["status"], step["http_status"]) == ("succeeded", 200)
    for text in all_text(store, run_id):
        assert SECRET not in text


def test_missing_variable_fails_the_step(store: Store, server: Server,
                                         executor: Executor) -> None:
    wid = publish_def(store, [http_step(
        f"{server.url}/ok", retries=2,
        http={"headers": {"Authorization": "Bearer ${env:CLOCKWF_TEST_NOPE}"}})])
    run_id = start(store, wid)
    assert executor.execute(run_id) == "failed"
    [step] = attempts(store, run_id)
    assert step["error"] == ("environment variable CLOCKWF_TEST_NOPE is not set (referenced by "
                             "steps[0].http.headers.Authorization)")
    assert server.requests == []


def test_cancel_during_a_request(store: Store, server: Server, executor: Executor) -> None:
    from datetime import UTC, datetime

    from clockwf import runs

    wid = publish_def(store, [http_step(f"{server.url}/slow")])
    run_id = start(store, wid)
    result: list[str] = []
    thread = threading.Thread(target=lambda: result.append(executor.execute(run_id)))
    thread.start()
    deadline = time.monotonic() + 30
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.requests, "the request never reached the server"   # cancel it mid-request
    runs.cancel_runs(store, [run_id], datetime.now(UTC))
    thread.join(10)
    assert result == ["cancelled"]
    assert [s["status"] for s in attempts(store, run_id)] == ["cancelled"]




@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on 127.0.0.1 with a fresh self-signed certificate: (url, cert file)."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make a certificate (Debian: openssl)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with serving(Handler, tls=context) as url:
        yield url, cert


def test_tls_certificates_are_verified(store: Store, tls_server: tuple[str, Path],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    url, cert = tls_server
    wid = publish_def(store, [http_step(f"{url}/hook")])
    untrusted = make_executor(store)
    run_id = start(store, wid)
    assert untrusted.execute(run_id) == "failed"
    [step] = attempts(store, run_id)
    assert step["error"].startswith(f"TLS certificate verification failed for {url}/hook: ")
    # the same server, once its certificate is trusted (the default context reads
    # SSL_CERT_FILE), is fine
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    trusting = make_executor(store)
    run_id = start(store, wid)
    assert trusting.execute(run_id) == "succeeded"
    assert attempts(store, run_id)[0]["http_status"] == 204


def test_send_http_verifies_with_a_given_ca_bundle(tls_server: tuple[str, Path]) -> None:
    """The reusable request function: the default CAs refuse the self-signed server, the
    server's own certificate as CA bundle accepts it, ``verify=False`` skips verification."""
    url, cert = tls_server
    assert send_http("POST", f"{url}/hook", body=b"{}", timeout=10).status == "failed"
    assert send_http("POST", f"{url}/hook", body=b"{}", timeout=10,
                     verify=str(cert)).http_status == 204
    assert send_http("POST", f"{url}/hook", body=b"{}", timeout=10,
                     verify=False).status == "succeeded"


def test_send_http_resolves_at_send_time_and_never_sends_with_a_missing_variable(
        server: Server) -> None:
    outcome = send_http("POST", server.url + "/ok?k=${env:TOKEN}",
                        headers={"Authorization": "Bearer ${env:TOKEN}"}, body=b"{}",
                        environ={"TOKEN": SECRET}, timeout=10, where="alerts.hook")
    assert (outcome.status, outcome.http_status) == ("succeeded", 200)
    assert outcome.output == "status 200; auth=Bearer ***; got 2 bytes"
    assert server.requests[0].headers["Authorization"] == f"Bearer {SECRET}"
    missing = send_http("GET", server.url + "/ok", headers={"X-Key": "${env:NOPE_NOT_SET}"},
                        environ={}, timeout=10, where="alerts.hook")
    assert (missing.status, missing.retryable, missing.error) == (
        "failed", False, "environment variable NOPE_NOT_SET is not set (referenced by "
                         "alerts.hook.headers.X-Key)")
    assert len(server.requests) == 1
