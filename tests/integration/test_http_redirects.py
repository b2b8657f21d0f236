"""The redirect rules of HTTP requests (steps and anything sent with ``send_http``), against
two real servers on 127.0.0.1 (two ports: two origins)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clockwf.steps import StepOutcome, send_http
from clockwf.steps.http import REDIRECT_LIMIT

from .http_support import Recorder, recording_server

SECRET = "tok-5e4d3c2b1a09"
ENV = {"TOKEN": SECRET, "KEY": "key-0a1b2c3d4e"}
BODY = json.dumps({"invoice": 42, "note": "café"}).encode()
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Recorder, Recorder]]:
    with recording_server() as a, recording_server() as b:
        yield a, b


@pytest.fixture(autouse=True)
def _fresh(servers: tuple[Recorder, Recorder]) -> None:
    for server in servers:
        with server.lock:
            server.requests.clear()
            server.routes.clear()


def chain(first: Recorder, last: Recorder, statuses: list[int], tag: str) -> str:
    """Routes /tag/0 -> /tag/1 -> ... on ``first``; the last hop goes to ``last``'s /tag/end.
    Returns the start url."""
    for hop, status in enumerate(statuses):
        target = (f"{last.url}/{tag}/end" if hop == len(statuses) - 1
                  else f"/{tag}/{hop + 1}")
        first.routes[f"/{tag}/{hop}"] = (status, target)
    return f"{first.url}/{tag}/0"


def send(method: str, url: str) -> StepOutcome:
    body = None if method == "GET" else BODY
    return send_http(method, url, body=body, timeout=10, environ=ENV,
                     headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("status", [307, 308])
@pytest.mark.parametrize("method", BODY_METHODS)
def test_307_and_308_keep_method_and_body_across_hosts(
        servers: tuple[Recorder, Recorder], method: str, status: int) -> None:
    a, b = servers
    outcome = send(method, chain(a, b, [status], "keep"))
    assert outcome.status == "succeeded", outcome.error
    [final] = b.seen()
    assert (final.method, final.path, final.body) == (method, "/keep/end", BODY)
    assert final.headers["content-type"] == "application/json"


@pytest.mark.parametrize("status", [301, 302, 303])
@pytest.mark.parametrize("method", BODY_METHODS)
def test_301_302_303_refuse_a_request_with_a_body(
        servers: tuple[Recorder, Recorder], method: str, status: int) -> None:
    a, b = servers
    url = chain(a, b, [status], "drop")
    outcome = send(method, url)
    assert outcome.status == "failed"
    assert outcome.http_status == status
    assert outcome.error == (
        f"refused the HTTP {status} redirect to {b.url}/drop/end: following a {status} would "
        f"resend the {method} as a GET without its body; only 307 and 308 keep the method and "
        f"body (requested {url})")
    assert b.seen() == []   # nothing reached the target, with or without the body


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_get_follows_every_redirect(servers: tuple[Recorder, Recorder], status: int) -> None:
    a, b = servers
    outcome = send("GET", chain(a, b, [status], "get"))
    assert outcome.status == "succeeded"
    [final] = b.seen()
    assert (final.method, final.body) == ("GET", b"")


def test_at_most_five_redirects(servers: tuple[Recorder, Recorder]) -> None:
    a, _b = servers
    ok = send("POST", chain(a, a, [307] * REDIRECT_LIMIT, "five"))
    assert ok.status == "succeeded"
    assert [r.path for r in a.seen()][-1] == "/five/end"
    url = chain(a, a, [308] * (REDIRECT_LIMIT + 1), "six")
    too_many = send("POST", url)
    assert too_many.status == "failed"
    assert too_many.error == (
        f"refused the HTTP 308 redirect to {a.url}/six/end: more than {REDIRECT_LIMIT} "
        f"redirects (requested {url})")
    assert "/six/end" not in [r.path for r in a.seen()]


HEADERS = {"Authorization": "Bearer ${env:TOKEN}", "X-Key": "k=${env:KEY}",
           "Cookie": "session=plain", "X-Team": "reports", "Content-Type": "application/json"}


def test_credentials_are_dropped_when_a_redirect_leaves_the_origin(
        servers: tuple[Recorder, Recorder]) -> None:
    a, b = servers
    a.routes["/away"] = (307, f"{b.url}/there")
    outcome = send_http("POST", f"{a.url}/away", body=BODY, headers=HEADERS, environ=ENV,
                        timeout=10)
    assert outcome.status == "succeeded"
    first, = a.seen()
    assert first.headers["authorization"] == f"Bearer {SECRET}"
    assert first.headers["x-key"] == "k=key-0a1b2c3d4e"
    final, = b.seen()
    assert (final.method, final.body) == ("POST", BODY)
    for dropped in ("authorization", "x-key", "cookie"):
        assert dropped not in final.headers
    assert final.headers["x-team"] == "reports"
    assert final.headers["content-type"] == "application/json"
    assert SECRET not in json.dumps(final.headers)


def test_credentials_are_kept_on_the_same_origin(servers: tuple[Recorder, Recorder]) -> None:
    a, _b = servers
    a.routes["/here"] = (308, "/also-here")
    outcome = send_http("PUT", f"{a.url}/here", body=BODY, headers=HEADERS, environ=ENV,
                        timeout=10)
    assert outcome.status == "succeeded"
    _first, final = a.seen()
    assert (final.method, final.path, final.body) == ("PUT", "/also-here", BODY)
    assert final.headers["authorization"] == f"Bearer {SECRET}"
    assert final.headers["x-key"] == "k=key-0a1b2c3d4e"


def test_once_dropped_credentials_stay_dropped(servers: tuple[Recorder, Recorder]) -> None:
    a, b = servers
    a.routes["/out"] = (307, f"{b.url}/back")
    b.routes["/back"] = (307, f"{a.url}/home")
    assert send_http("POST", f"{a.url}/out", body=BODY, headers=HEADERS, environ=ENV,
                     timeout=10).status == "succeeded"
    home = [r for r in a.seen() if r.path == "/home"]
    assert len(home) == 1 and "authorization" not in home[0].headers


@pytest.mark.parametrize("location", ["ftp://127.0.0.1/file", "file:///etc/passwd",
                                      "gopher://127.0.0.1:70/x"])
def test_only_http_and_https_targets(servers: tuple[Recorder, Recorder], location: str) -> None:
    a, _b = servers
    a.routes["/elsewhere"] = (307, location)
    outcome = send("GET", f"{a.url}/elsewhere")
    assert outcome.status == "failed"
    scheme = location.split(":")[0]
    assert outcome.error == (
        f"refused the HTTP 307 redirect to {location}: only http and https are followed, not "
        f"{scheme} (requested {a.url}/elsewhere)")


def test_a_secret_in_the_location_is_masked(servers: tuple[Recorder, Recorder]) -> None:
    a, b = servers
    a.routes["/leak"] = (302, f"{b.url}/x?token={SECRET}")
    outcome = send_http("POST", a.url + "/leak?t=${env:TOKEN}", body=BODY, environ=ENV,
                        timeout=10)
    assert outcome.status == "failed"
    assert outcome.error is not None and SECRET not in outcome.error
    assert "token=***" in outcome.error


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(("GET", *BODY_METHODS)),
       statuses=st.lists(st.sampled_from((301, 302, 303, 307, 308)), min_size=1, max_size=7),
       cross=st.booleans())
def test_the_redirect_rule(servers: tuple[Recorder, Recorder], method: str,
                           statuses: list[int], cross: bool) -> None:
    """Followed iff no hop is a 301/302/303 of a request with a body and there are at most
    five hops; when followed, the final server gets the method (a GET stays a GET) and body."""
    a, b = servers
    tag = f"p{len(a.seen()) + len(b.seen())}x{len(statuses)}"
    last = b if cross else a
    outcome = send(method, chain(a, last, statuses, tag))
    has_body = method != "GET"
    followed = len(statuses) <= REDIRECT_LIMIT and not (
        has_body and any(s in (301, 302, 303) for s in statuses))
    finals = [r for r in last.seen() if r.path == f"/{tag}/end"]
    if followed:
        assert outcome.status == "succeeded", outcome.error
        [final] = finals
        assert (final.method, final.body) == (method, BODY if has_body else b"")
    else:
        assert outcome.status == "failed"
        assert outcome.http_status in (301, 302, 303, 307, 308)
        assert finals == []


@pytest.mark.parametrize(("current", "target", "why"), [
    ("https://a.example/x", "http://a.example/y", "a redirect from https to http is not followed"),
    ("http://a.example/x", "http://a.example:99999/y", "its port is not valid"),
    ("http://a.example/x", "javascript:alert(1)", "only http and https are followed, not "
                                                  "javascript"),
])
def test_refused_targets(current: str, target: str, why: str) -> None:
    from clockwf.steps.http import _refusal

    assert _refusal(307, "GET", False, current, target, 0) == \
        f"refused the HTTP 307 redirect to {target}: {why}"
    assert _refusal(307, "GET", False, current, "https://b.example/z", 0) is None
