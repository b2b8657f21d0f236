"""The HTTP API of `clockwf serve` on both stores, over real HTTP: the same documents as the
CLI's --format json, tokens and scopes, namespaces, CSRF, writes, and escaping in pages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from clockwf import lifecycle, runs, tokens
from clockwf.scheduler import tick
from clockwf.store import open_store
from clockwf.validate import validate_source

from .web_support import running_server

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2027, 3, 20, 12, 0, tzinfo=UTC)
PUBLISHED = NOW - timedelta(days=3)

NIGHTLY = """\
id: nightly
name: Nightly <b>bold</b>
trigger: {type: recurring, cron: "30 2 * * *", timezone: America/New_York}
policy: {catchup: latest, catchup_window: 7d}
steps:
  - id: build
    run: cat
"""
MANUAL = """\
id: by-hand
steps:
  - run: echo hi
"""
EVENTED = """\
id: on-invoice
trigger: {type: event, event: invoice.created}
steps:
  - run: cat
"""


def publish_text(store: Any, text: str, now: datetime) -> None:
    report = validate_source(text, "t.yaml", now, for_publish=True)
    assert report.ok, [str(d) for d in report.errors]
    lifecycle.publish(store, [report], now)


@dataclass
class World:
    url: str
    store_url: str
    ns: str
    read: str
    operate: str
    admin: str
    other: str           # an admin token of another namespace
    run_id: int          # a run of `nightly`
    other_run_id: int    # a run of the other namespace

    def client(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30,
                            follow_redirects=False)


@pytest.fixture
def world(store_url: str, namespace: str) -> Iterator[World]:
    other_ns = namespace + "-b"
    with open_store(store_url, namespace) as store, open_store(store_url, other_ns) as other:
        publish_text(store, NIGHTLY, PUBLISHED)
        publish_text(store, MANUAL, PUBLISHED)
        publish_text(store, EVENTED, PUBLISHED)
        # Three days without a daemon: catch-up `latest` launches the last night and records
        # the two before as coalesced.
        tick(store, NOW - timedelta(hours=1), instance="test")
        run_id = runs.list_runs(store, workflow_id="nightly")[0]["run_id"]
        keys = {scope: tokens.create(store, f"t-{scope}", scope, PUBLISHED)
                for scope in tokens.SCOPES}
        publish_text(other, MANUAL.replace("by-hand", "secret-wf"), PUBLISHED)
        other_run = runs.start_manual(other, "secret-wf", PUBLISHED)
        assert other_run.run_id is not None
        other_key = tokens.create(other, "t-other", "admin", PUBLISHED)
    with running_server(store_url, namespace, now=NOW) as url:
        yield World(url, store_url, namespace, keys["read"], keys["operate"], keys["admin"],
                    other_key, run_id, other_run.run_id)


def cli(world: World, *args: str, store: bool = True) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOCKWF_")}
    env["PYTHONPATH"] = str(ROOT)
    where = ["--db", world.store_url, "--namespace", world.ns] if store else []
    proc = subprocess.run([sys.executable, "-m", "clockwf", *args, *where, "--format", "json"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout, (args, proc.stderr)
    return json.loads(proc.stdout)


def test_the_api_answers_the_documents_of_the_cli(world: World, tmp_path: Path) -> None:
    now = ["--now", NOW.isoformat()]
    with world.client(world.read) as api:
        pairs = [
            ("/api/v1/workflows", ["list"]),
            ("/api/v1/workflows?trigger=scheduled", ["list", "--trigger", "scheduled"]),
            ("/api/v1/workflows?status=published", ["list", "--status", "published"]),
            ("/api/v1/workflows/nightly", ["show", "nightly"]),
            ("/api/v1/workflows/nightly?version=1", ["show", "nightly", "--version", "1"]),
            ("/api/v1/runs", ["runs"]),
            ("/api/v1/runs?workflow_id=nightly&limit=5", ["runs", "nightly", "--limit", "5"]),
            (f"/api/v1/runs/{world.run_id}", ["runs", "show", str(world.run_id)]),
            ("/api/v1/status", ["status", *now]),
            ("/api/v1/workflows/nightly/explain?at=2027-03-18T02:30",
             ["explain", "nightly", "--at", "2027-03-18T02:30", *now]),
            ("/api/v1/workflows/nightly/explain?at=2027-03-19T06:30:00Z",
             ["explain", "nightly", "--at", "2027-03-19T06:30:00Z", *now]),
        ]
        for path, args in pairs:
            response = api.get(path)
            assert response.status_code == 200, (path, response.text)
            assert response.json() == cli(world, *args), path
        # next fires: the CLI reads the definition file, the API the published definition
        fires = api.get("/api/v1/workflows/nightly/next?count=4").json()
    (tmp_path / "nightly.yaml").write_text(NIGHTLY)
    assert fires == cli(world, "next", str(tmp_path / "nightly.yaml"), "-n", "4", *now,
                        store=False)


def test_the_writes_answer_like_the_cli(world: World) -> None:
    with world.client(world.operate) as api:
        first = api.post("/api/v1/workflows/by-hand/runs", json={"payload": {"n": 1},
                                                                 "key": "k-1"})
        assert first.status_code == 201, first.text
        again = api.post("/api/v1/workflows/by-hand/runs", json={"key": "k-1"})
        doc = first.json()
        assert doc["duplicate"] is False and doc["fire_key"] == "manual:by-hand:k-1"
        assert again.json() == {**doc, "run_id": None, "duplicate": True,
                                "existing_run_id": doc["run_id"]}
        shown = api.get(f"/api/v1/runs/{doc['run_id']}").json()
        assert shown["payload"] == {"n": 1}
        assert api.post("/api/v1/workflows/by-hand/runs").status_code == 201  # no body at all
        event = api.post("/api/v1/events/invoice.created",
                         json={"payload": {"invoice": 7}, "key": "e-1"})
        assert event.status_code == 201
        assert [r["workflow_id"] for r in event.json()["runs"]] == ["on-invoice"]
        assert api.post("/api/v1/events/invoice.created",
                        json={"key": "e-1"}).json()["runs"][0]["duplicate"] is True
        paused = api.post("/api/v1/workflows/nightly/pause", json={"note": "maintenance"})
        assert paused.json() == {"workflow_id": "nightly", "status": "paused",
                                 "next_fire_at": None, "skipped": 0, "detail": None}
        assert api.get("/api/v1/workflows/nightly").json()["paused_note"] == "maintenance"
        assert api.post("/api/v1/workflows/nightly/pause").json()["status"] == \
            "already paused"
        resumed = api.post("/api/v1/workflows/nightly/resume").json()
        assert resumed["status"] == "resumed" and resumed["next_fire_at"] is not None
        span = {"from": "2027-03-10T00:00", "to": "2027-03-12T00:00"}
        preview = api.post("/api/v1/workflows/nightly/backfill", json=span).json()
        assert preview["dry_run"] is True and preview["launched"] == []
        assert [e["scheduled_for"] for e in preview["would_launch"]] == [
            "2027-03-10T02:30:00-05:00", "2027-03-11T02:30:00-05:00"]
        done = api.post("/api/v1/workflows/nightly/backfill",
                        json={**span, "dry_run": False}).json()
        assert [e["fire_key"] for e in done["launched"]] == [
            e["fire_key"] for e in preview["would_launch"]]
        again_preview = api.post("/api/v1/workflows/nightly/backfill", json=span).json()
        assert again_preview["would_launch"] == [] and len(again_preview["existing"]) == 2
        cancelled = api.post(f"/api/v1/runs/{doc['run_id']}/cancel")
        assert cancelled.json() == {"cancelled": [{"run_id": doc["run_id"], "was": "queued"}]}
        assert api.post(f"/api/v1/runs/{doc['run_id']}/cancel").status_code == 409


def test_publish_takes_yaml_and_reports_line_and_column(world: World) -> None:
    bad = "id: broken\ntrigger: {type: recurring, cron: \"61 * * * *\"}\nsteps:\n  - run: x\n"
    with world.client(world.admin) as api:
        response = api.post("/api/v1/workflows", content=bad,
                            headers={"content-type": "application/yaml"})
        assert response.status_code == 422
        [diagnostic] = response.json()["diagnostics"]
        assert (diagnostic["line"], diagnostic["field"]) == (2, "trigger.cron")
        assert diagnostic["column"] > 1 and "minute" in diagnostic["message"]
        assert api.get("/api/v1/workflows/broken").status_code == 404  # nothing published
        good = api.post("/api/v1/workflows", content=MANUAL.replace("by-hand", "fresh"),
                        headers={"content-type": "application/yaml"})
        assert good.status_code == 200, good.text
        assert good.json()["published"][0]["workflow_id"] == "fresh"
        assert api.get("/api/v1/workflows/fresh").json()["version"] == 1
    with world.client(world.operate) as api:
        denied = api.post("/api/v1/workflows", content=MANUAL,
                          headers={"content-type": "application/yaml"})
        assert denied.status_code == 403


READS = ["/api/v1/workflows", "/api/v1/workflows/nightly", "/api/v1/workflows/nightly/next",
         "/api/v1/workflows/nightly/explain?at=2027-03-18T02:30",
         "/api/v1/workflows/nightly/timeline", "/api/v1/runs", "/api/v1/runs/{run}",
         "/api/v1/status", "/api/v1/notifications", "/metrics", "/", "/workflows",
         "/workflows/nightly", "/runs", "/runs/{run}"]
WRITES = [("/api/v1/workflows/nightly/runs", {}), ("/api/v1/workflows/nightly/pause", {}),
          ("/api/v1/workflows/nightly/resume", None), ("/api/v1/events/invoice.created", {}),
          ("/api/v1/workflows/nightly/backfill", {"from": "2027-03-10", "to": "2027-03-11"}),
          ("/api/v1/runs/{run}/cancel", None), ("/api/v1/workflows", None),
          ("/workflows/nightly/run", None), ("/workflows/nightly/pause", None),
          ("/workflows/nightly/resume", None), ("/workflows/nightly/backfill", None),
          ("/runs/{run}/cancel", None)]


def test_every_endpoint_needs_a_token(world: World) -> None:
    for token in (None, "cwf_not-a-token", world.read + "x"):
        with world.client(token) as api:
            for path in READS:
                response = api.get(path.format(run=world.run_id))
                assert response.status_code == 401, (token, path)
            for path, body in WRITES:
                response = api.post(path.format(run=world.run_id), json=body)
                assert response.status_code == 401, (token, path)
    with world.client(None) as api:
        assert api.get("/api/v1/status").headers["www-authenticate"] == "Bearer"
        assert "Sign in" in api.get("/workflows").text


def test_a_read_token_cannot_write(world: World) -> None:
    with world.client(world.read) as api:
        for path in READS:
            assert api.get(path.format(run=world.run_id)).status_code == 200, path
        for path, body in WRITES:
            if path.startswith("/api/"):
                response = api.post(path.format(run=world.run_id), json=body)
                assert response.status_code == 403, path
                assert "scope is read" in response.json()["error"]
        assert runs.list_runs(open_store(world.store_url, world.ns),
                              workflow_id="nightly", limit=100)[0]["status"] == "queued"


def test_another_namespace_is_not_found(world: World) -> None:
    with world.client(world.admin) as api:
        assert api.get("/api/v1/workflows/secret-wf").status_code == 404
        assert api.post("/api/v1/workflows/secret-wf/runs", json={}).status_code == 404
        assert api.post("/api/v1/workflows/secret-wf/pause").status_code == 404
        assert api.get(f"/api/v1/runs/{world.other_run_id}").status_code == 404
        assert api.post(f"/api/v1/runs/{world.other_run_id}/cancel").status_code == 404
        assert api.get("/workflows/secret-wf").status_code == 404
        ids = [w["workflow_id"] for w in api.get("/api/v1/workflows").json()["workflows"]]
        assert "secret-wf" not in ids
    with world.client(world.other) as api:  # the other namespace's token sees its own only
        assert [w["workflow_id"] for w in api.get("/api/v1/workflows").json()["workflows"]] \
            == ["secret-wf"]
        assert api.get("/api/v1/workflows/nightly").status_code == 404


def test_a_revoked_token_stops_working(world: World) -> None:
    with world.client(world.read) as api:
        assert api.get("/api/v1/workflows").status_code == 200
        with open_store(world.store_url, world.ns) as store:
            tokens.revoke(store, "t-read")
        assert api.get("/api/v1/workflows").status_code == 401


def test_the_browser_session_is_an_httponly_strict_cookie_and_forms_need_csrf(
        world: World) -> None:
    with world.client(None) as browser:
        wrong = browser.post("/signin", data={"token": "cwf_nope", "next": "/"})
        assert wrong.status_code == 401 and "not valid" in wrong.text
        for target in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
            away = browser.post("/signin", data={"token": world.read, "next": target})
            assert away.status_code == 303 and away.headers["location"] == "/", target
        signed = browser.post("/signin", data={"token": world.operate, "next": "/workflows"})
        assert signed.status_code == 303 and signed.headers["location"] == "/workflows"
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert world.operate.lower() not in browser.get("/workflows").text.lower()
        page = browser.get("/workflows/by-hand").text
        csrf = tokens.csrf_token(world.operate)
        assert f'name="csrf" value="{csrf}"' in page
        assert browser.post("/workflows/by-hand/run", data={"payload": "{}"}).status_code == 403
        assert browser.post("/workflows/by-hand/run",
                            data={"payload": "{}", "csrf": "0" * 64}).status_code == 403
        # the API with the cookie: reads as is, writes with the header
        assert browser.get("/api/v1/workflows").status_code == 200
        assert browser.post("/api/v1/workflows/by-hand/runs", json={}).status_code == 403
        assert browser.post("/api/v1/workflows/by-hand/runs", json={},
                            headers={"x-csrf-token": csrf}).status_code == 201
        done = browser.post("/workflows/by-hand/run", data={"payload": '{"a": 1}',
                                                           "csrf": csrf})
        assert done.status_code == 303 and done.headers["location"].startswith("/runs/")
        run_page = browser.get(done.headers["location"])
        assert run_page.status_code == 200 and "&#34;a&#34;: 1" in run_page.text
        bad_json = browser.post("/workflows/by-hand/run", data={"payload": "{", "csrf": csrf})
        assert bad_json.status_code == 422 and "not valid JSON" in bad_json.text


HOSTILE = ['<script>window.__pwned=1</script>', '"><img src=x onerror="window.__pwned=2">']


def test_pages_render_hostile_text_as_text(world: World) -> None:
    with open_store(world.store_url, world.ns) as store:
        started = runs.start_manual(store, "by-hand", NOW, payload={"x": HOSTILE},
                                    key="k<script>")
    assert started.run_id is not None
    with world.client(world.read) as api:
        for path in (f"/runs/{started.run_id}", "/workflows/nightly", "/runs"):
            html = api.get(path).text
            for text in HOSTILE:
                assert text not in html and json.dumps(text) not in html
            assert "<img src=x" not in html and "<script>window" not in html
        assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in api.get(
            f"/runs/{started.run_id}").text
        assert "Nightly &lt;b&gt;bold&lt;/b&gt;" in api.get("/workflows/nightly").text
        csp = api.get("/").headers["content-security-policy"]
        assert "script-src 'self'" in csp


def test_the_timeline_shows_skips_with_reasons_and_runs(world: World) -> None:
    with world.client(world.read) as api:
        doc = api.get("/api/v1/workflows/nightly/timeline",
                      params={"from": "2027-03-16T00:00", "to": "2027-03-21T00:00"}).json()
    by_day = {o["scheduled_for"][:10]: o for o in doc["occurrences"]}
    assert [by_day[d]["reason"] for d in ("2027-03-18", "2027-03-19")] == ["coalesced"] * 2
    assert by_day["2027-03-18"]["outcome"] == "skipped"
    assert by_day["2027-03-20"]["outcome"] == "launched"
    assert by_day["2027-03-20"]["run_id"] == world.run_id
    assert by_day["2027-03-17"]["outcome"] == "no_record"  # before the first publish
    assert by_day["2027-03-16"]["outcome"] == "no_record"
    with world.client(world.read) as api:
        later = api.get("/api/v1/workflows/nightly/timeline",
                        params={"from": "2027-03-20T00:00", "to": "2027-03-23T00:00"}).json()
    assert [o["outcome"] for o in later["occurrences"]] == ["launched", "upcoming",
                                                            "upcoming"]


def test_the_timeline_marks_dst_changes_and_dst_skips(world: World) -> None:
    with world.client(world.read) as api:
        doc = api.get("/api/v1/workflows/nightly/timeline",
                      params={"from": "2027-03-13T00:00", "to": "2027-03-15T00:00"}).json()
    assert [c["at"] for c in doc["dst_changes"]] == ["2027-03-14T07:00:00Z"]
    assert [(c["offset_before"], c["offset_after"]) for c in doc["dst_changes"]] == [
        ("-0500", "-0400")]
    # run_after: 02:30 on the spring-forward day fires at 03:00 EDT
    assert [o["scheduled_for"] for o in doc["occurrences"]] == [
        "2027-03-13T02:30:00-05:00", "2027-03-14T03:00:00-04:00"]


def test_the_workflows_list_pages_and_searches(world: World) -> None:
    with world.client(world.read) as api:
        page = api.get("/api/v1/workflows", params={"limit": 2}).json()
        assert [w["workflow_id"] for w in page["workflows"]] == ["by-hand", "nightly"]
        assert page["total"] == 3
        rest = api.get("/api/v1/workflows", params={"limit": 2, "offset": 2}).json()
        assert [w["workflow_id"] for w in rest["workflows"]] == ["on-invoice"]
        found = api.get("/api/v1/workflows", params={"search": "ight"}).json()
        assert [w["workflow_id"] for w in found["workflows"]] == ["nightly"]
        assert found["total"] == 1
        for status, trigger, expected in (("scheduled", None, 1), ("paused", None, 0),
                                          ("published", None, 3), (None, "event", 1),
                                          (None, "scheduled", 1)):
            params: dict[str, Any] = {"limit": 1}
            params.update({k: v for k, v in (("status", status), ("trigger", trigger)) if v})
            assert api.get("/api/v1/workflows", params=params).json()["total"] == expected, \
                params
        html = api.get("/workflows", params={"q": "invoice"}).text
        assert "on-invoice" in html and "by-hand" not in html
        assert api.get("/api/v1/workflows", params={"trigger": "nope"}).status_code == 422


def test_healthz_judges_like_clockwf_status(world: World) -> None:
    now = ["--now", NOW.isoformat()]
    with world.client(None) as api:
        response = api.get("/healthz")
    assert response.status_code == 503 and response.json() == {"ok": False}
    assert cli(world, "status", *now)["ok"] is False   # no daemon
    with open_store(world.store_url, world.ns) as store, store.transaction() as tx:
        tx.heartbeat(instance_id="d1", hostname="h", pid=1, role="daemon", version="t",
                     started_at=NOW, last_tick_at=NOW, status="running")
    with world.client(None) as api:
        assert api.get("/healthz").status_code == 200
    assert cli(world, "status", *now)["ok"] is True
    with open_store(world.store_url, world.ns) as store:  # due an hour ago, never ticked
        publish_text(store, MANUAL.replace("id: by-hand", "id: minutely\ntrigger: {type: "
                                           "recurring, cron: '* * * * *'}"),
                     NOW - timedelta(hours=1))
    with world.client(None) as api:
        assert api.get("/healthz").status_code == 503
    assert cli(world, "status", *now)["ok"] is False


def test_two_serve_processes_share_a_store_and_a_session(world: World) -> None:
    with running_server(world.store_url, world.ns, now=NOW) as second, \
            world.client(None) as first_browser:
        signed = first_browser.post("/signin", data={"token": world.operate, "next": "/"})
        assert signed.status_code == 303
        cookie = first_browser.cookies.get("clockwf_session")
        assert cookie == world.operate
        csrf = tokens.csrf_token(world.operate)
        with httpx.Client(base_url=second, cookies={"clockwf_session": cookie},
                          timeout=30) as other:
            started = other.post("/workflows/by-hand/run", data={"csrf": csrf,
                                                                 "payload": "[1]"})
            assert started.status_code == 303
            run_path = started.headers["location"]
        assert first_browser.get(run_path).status_code == 200
        assert first_browser.get("/api/v1" + run_path).json()["payload"] == [1]


def test_writes_from_another_site_are_refused(world: World, store_url: str) -> None:
    with world.client(world.operate) as api:
        for headers in ({"origin": "http://evil.example"}, {"sec-fetch-site": "cross-site"}):
            response = api.post("/api/v1/workflows/by-hand/runs", json={}, headers=headers)
            assert response.status_code == 403, headers
        same = api.post("/api/v1/workflows/by-hand/runs", json={},
                        headers={"origin": world.url, "sec-fetch-site": "same-origin"})
        assert same.status_code == 201
    with running_server(store_url, world.ns, now=NOW, no_auth=True) as url, \
            httpx.Client(base_url=url, timeout=30) as anyone:
        assert anyone.get("/api/v1/workflows").status_code == 200
        assert anyone.post("/api/v1/workflows/nightly/pause").json()["status"] == "paused"
        assert anyone.post("/api/v1/workflows/nightly/resume",
                           headers={"origin": "http://evil.example"}).status_code == 403
        assert anyone.post("/workflows/nightly/resume",
                           headers={"sec-fetch-site": "cross-site"}).status_code == 403
        rebound = anyone.get("/api/v1/workflows", headers={"host": "evil.example:8080"})
        assert rebound.status_code == 403
        assert anyone.get("/api/v1/workflows", headers={"host": "localhost:1"}).status_code \
            == 200


def test_recent_runs_of_gives_the_newest_of_each_workflow(store: Any) -> None:
    publish_text(store, MANUAL, PUBLISHED)
    publish_text(store, MANUAL.replace("by-hand", "second"), PUBLISHED)
    first = [runs.start_manual(store, "by-hand", PUBLISHED).run_id for _ in range(15)]
    second = [runs.start_manual(store, "second", PUBLISHED).run_id for _ in range(2)]
    with store.read() as tx:
        rows = tx.recent_runs_of(["second", "by-hand", "nothing"], 12)
        assert tx.recent_runs_of([], 12) == []
    assert [(r["workflow_id"], r["run_id"]) for r in rows] == [
        *[("by-hand", i) for i in first[-12:]], *[("second", i) for i in second]]
    assert {r["status"] for r in rows} == {"queued"}


def test_the_workflows_table_shows_the_last_runs_as_a_strip(world: World) -> None:
    with world.client(world.read) as api:
        html = api.get("/workflows").text
    assert f'href="/runs/{world.run_id}" class="sq st-queued"' in html


def test_a_page_s_live_part_comes_alone_for_the_refresh(world: World) -> None:
    with world.client(world.read) as api:
        whole = api.get(f"/runs/{world.run_id}").text
        live = api.get(f"/runs/{world.run_id}", headers={"x-clockwf-live": "1"}).text
        assert "<html" in whole and 'id="live"' in whole
        assert "<html" not in live and 'id="run-status">queued<' in live
        with open_store(world.store_url, world.ns) as store:
            runs.cancel_runs(store, [world.run_id], NOW)
        again = api.get(f"/runs/{world.run_id}", headers={"x-clockwf-live": "1"}).text
        assert 'id="run-status">cancelled<' in again
        for path in ("/", "/workflows", "/workflows/nightly", "/runs"):
            part = api.get(path, headers={"x-clockwf-live": "1"})
            assert part.status_code == 200 and "<html" not in part.text, path


def test_the_operator_forms_pause_resume_backfill_and_cancel(world: World) -> None:
    with world.client(None) as browser:
        browser.post("/signin", data={"token": world.operate, "next": "/"})
        csrf = tokens.csrf_token(world.operate)
        paused = browser.post("/workflows/nightly/pause", data={"csrf": csrf, "note": "db"})
        assert paused.status_code == 303
        page = browser.get("/workflows/nightly").text
        assert 'id="resume"' in page and "paused: db" in page
        assert browser.post("/workflows/nightly/resume", data={"csrf": csrf}).status_code == 303
        assert 'id="pause"' in browser.get("/workflows/nightly").text
        span = {"csrf": csrf, "from": "2027-03-10T00:00", "to": "2027-03-12T00:00"}
        preview = browser.post("/workflows/nightly/backfill", data=span)
        assert preview.status_code == 200 and "would launch 2;" in preview.text
        assert "2027-03-10T02:30:00-05:00" in preview.text and 'id="backfill-confirm"' in \
            preview.text
        assert runs.list_runs(open_store(world.store_url, world.ns), workflow_id="nightly",
                              limit=10)[0]["run_id"] == world.run_id   # nothing launched
        done = browser.post("/workflows/nightly/backfill", data={**span, "confirm": "1"})
        assert "launched 2;" in done.text
        cancel = browser.post(f"/runs/{world.run_id}/cancel", data={"csrf": csrf})
        assert cancel.status_code == 303
        assert 'id="run-status">cancelled<' in browser.get(f"/runs/{world.run_id}").text
    with world.client(None) as reader:
        reader.post("/signin", data={"token": world.read, "next": "/"})
        denied = reader.post("/workflows/nightly/pause",
                             data={"csrf": tokens.csrf_token(world.read)})
        assert denied.status_code == 403 and "scope is read" in denied.text


FLAKY = """\
id: flaky
notify: {to: [{command: "cat > /dev/null"}]}
steps:
  - run: "echo broken; exit 3"
"""


def test_notifications_and_metrics_are_served_as_the_cli_gives_them(world: World) -> None:
    from .executor_support import make_executor

    with open_store(world.store_url, world.ns) as store:
        publish_text(store, FLAKY, PUBLISHED)
        started = runs.start_manual(store, "flaky", PUBLISHED)
        assert started.run_id is not None
        executor = make_executor(store)
        try:
            assert executor.execute(started.run_id) == "failed"
        finally:
            executor.stop(0)
    listed = cli(world, "notifications")
    [failed] = [n for n in listed["notifications"] if n["workflow_id"] == "flaky"]
    assert (failed["event"], failed["run_id"]) == ("failed", started.run_id)
    with world.client(world.read) as api:
        assert api.get("/api/v1/notifications").json() == listed
        one = api.get(f"/api/v1/notifications/{failed['id']}")
        assert one.status_code == 200
        assert one.json() == cli(world, "notifications", failed["id"])
        assert one.json()["notification"]["summary"].startswith("flaky: run")
        assert api.get("/api/v1/notifications/no-such-id").status_code == 404
        scraped = api.get("/metrics")
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain")
        line = (f'clockwf_workflow_consecutive_failures{{namespace="{world.ns}",'
                'workflow="flaky"} 1')
        assert any(row.startswith(line) for row in scraped.text.splitlines()), scraped.text
    with world.client(None) as api:
        assert api.get("/api/v1/notifications").status_code == 401
        assert api.get("/metrics").status_code == 401
    with world.client(world.other) as api:   # another namespace sees none of it
        assert api.get(f"/api/v1/notifications/{failed['id']}").status_code == 404
        assert "flaky" not in api.get("/metrics").text
