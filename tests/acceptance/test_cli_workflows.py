"""The command line over a store: publish, list, show, pause, resume, delete, tick, runs,
explain, backfill, simulate, emit, run, status (docs/design.md §4, §6). Real subprocesses on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from .cli_support import ROOT, Clockwf

EXAMPLES = sorted(str(p) for p in (ROOT / "examples").glob("*.yaml"))
NOW = "2027-03-13T12:00:00Z"


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "clockwf.db")


def publish_examples(clockwf: Clockwf, db: str) -> dict:  # type: ignore[type-arg]
    result = clockwf("publish", "--db", db, "--now", NOW, "--format", "json", *EXAMPLES)
    assert result.code == 0, result.err
    return dict(result.json())


@pytest.mark.slow
def test_publish_list_show_json_shapes(clockwf: Clockwf, db: str) -> None:
    published = publish_examples(clockwf, db)["published"]
    assert {p["workflow_id"] for p in published} == {
        "heartbeat", "invoice-created", "manual-cleanup", "month-end-report", "nightly-report",
        "one-time-migration", "sync-every-90m", "weekday-webhook"}
    for p in published:
        assert set(p) == {"workflow_id", "version", "status", "trigger_type", "next_fire_at"}
        assert p["status"] == "published" and p["version"] == 1
    nightly = next(p for p in published if p["workflow_id"] == "nightly-report")
    assert nightly["trigger_type"] == "recurring"
    assert nightly["next_fire_at"] == "2027-03-14T03:00:00-04:00"     # the DST-gap fire

    again = clockwf("publish", "--db", db, "--now", NOW, "--format", "json", *EXAMPLES)
    assert {p["status"] for p in again.json()["published"]} == {"unchanged"}

    listed = clockwf("list", "--db", db, "--format", "json").json()["workflows"]
    assert [w["workflow_id"] for w in listed] == sorted(w["workflow_id"] for w in listed)
    for w in listed:
        assert set(w) == {"workflow_id", "status", "trigger_type", "version", "next_fire_at",
                          "schedule_status", "published_from", "paused_note"}
    kinds = {w["workflow_id"]: (w["trigger_type"], w["schedule_status"]) for w in listed}
    assert kinds["invoice-created"] == ("event", None)
    assert kinds["manual-cleanup"] == ("manual", None)
    assert kinds["one-time-migration"] == ("schedule", "scheduled")

    scheduled = clockwf("list", "--db", db, "--trigger", "scheduled", "--format", "json")
    assert {w["trigger_type"] for w in scheduled.json()["workflows"]} == {"schedule",
                                                                          "recurring"}
    bad = clockwf("list", "--db", db, "--trigger", "cron")
    assert bad.code == 1 and "scheduled" in bad.err

    shown = clockwf("show", "nightly-report", "--db", db, "--format", "json").json()
    assert shown["schedule"]["status"] == "scheduled" and shown["schedule"]["enabled"] is True
    assert shown["schedule"]["next_fire_at"] == "2027-03-14T03:00:00-04:00"
    assert set(shown["schedule"]) >= {"status", "next_fire_at", "last_fire_key",
                                      "last_fired_at", "enabled"}
    assert [v["version"] for v in shown["versions"]] == [1]
    assert shown["definition"]["trigger"]["cron"] == "30 2 * * *"

    human = clockwf("list", "--db", db, "--now", NOW)
    assert "recurring 02:30 America/New_York" in human.out
    assert "event invoice.created" in human.out and "one-time" in human.out
    assert "in 19h" in human.out                # 03:00 EDT (07:00Z) is 19 h after 12:00Z


@pytest.mark.slow
def test_pause_resume_delete_and_not_found(clockwf: Clockwf, db: str) -> None:
    publish_examples(clockwf, db)
    paused = clockwf("pause", "nightly-report", "--note", "migration", "--db", db, "--now", NOW,
                     "--format", "json")
    assert paused.code == 0 and paused.json()["status"] == "paused"
    listed = clockwf("list", "--db", db, "--status", "paused", "--format", "json").json()
    assert [w["workflow_id"] for w in listed["workflows"]] == ["nightly-report"]
    ticked = clockwf("tick", "--db", db, "--now", "2027-03-15T12:00:00Z", "--format", "json")
    assert all(e["workflow_id"] != "nightly-report" for e in ticked.json()["launched"])
    resumed = clockwf("resume", "nightly-report", "--db", db, "--now", "2027-03-15T12:00:00Z",
                      "--format", "json").json()
    assert resumed["status"] == "resumed" and resumed["skipped"] == 2     # 03-14 and 03-15
    explained = clockwf("explain", "nightly-report", "--at", "2027-03-15T02:30", "--db", db,
                        "--now", "2027-03-15T12:00:00Z", "--format", "json").json()
    assert explained["outcome"] == "skipped" and explained["skip"]["reason"] == "paused"

    assert clockwf("delete", "heartbeat", "--db", db).code == 1              # needs --yes
    deleted = clockwf("delete", "heartbeat", "--yes", "--db", db, "--format", "json")
    assert deleted.code == 0 and deleted.json()["status"] == "deleted"
    missing = clockwf("show", "heartbeat", "--db", db)
    assert missing.code == 1 and "no workflow 'heartbeat'" in missing.err
    assert clockwf("pause", "nope", "--db", db).code == 1


@pytest.mark.slow
def test_publish_is_all_or_nothing_and_names_the_failing_file(clockwf: Clockwf, db: str,
                                                              tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\ntrigger: {type: recurring, cron: '61 * * * *'}\nsteps:\n"
                   "  - run: 'true'\n")
    result = clockwf("publish", "--db", db, "--now", NOW, *EXAMPLES, str(bad))
    assert result.code == 1
    assert f"{bad}:2:" in result.err and "out of range 0-59" in result.err
    assert "nothing was published" in result.err
    listed = clockwf("list", "--db", db, "--format", "json")
    assert listed.json()["workflows"] == []
    dup = tmp_path / "dup.yaml"
    dup.write_text((ROOT / "examples" / "heartbeat.yaml").read_text())
    result = clockwf("publish", "--db", db, "--now", NOW, EXAMPLES[0], str(dup))
    assert result.code == 1 and "also defined in" in result.err


def test_run_at_in_the_past_is_refused_at_publish(clockwf: Clockwf, db: str,
                                                  tmp_path: Path) -> None:
    once = tmp_path / "once.yaml"
    once.write_text("id: once\ntrigger: {type: schedule, run_at: '2027-01-15T09:00:00-05:00'}\n"
                    "steps:\n  - run: 'true'\n")
    validated = clockwf("validate", str(once), "--now", "2027-02-01T00:00:00Z")
    assert validated.code == 0 and "past" in validated.out         # only a warning there
    refused = clockwf("publish", str(once), "--db", db, "--now", "2027-02-01T00:00:00Z")
    assert refused.code == 1 and "past" in refused.err


@pytest.mark.slow
def test_tick_runs_explain_backfill_json(clockwf: Clockwf, db: str) -> None:
    publish_examples(clockwf, db)
    tick = clockwf("tick", "--db", db, "--now", "2027-03-14T07:00:30Z", "--format", "json")
    doc = tick.json()
    assert set(doc) == {"now", "launched", "skipped", "completed", "missed"}
    assert doc["now"] == "2027-03-14T07:00:30Z"
    nightly = [e for e in doc["launched"] if e["workflow_id"] == "nightly-report"]
    assert nightly == [{"workflow_id": "nightly-report",
                        "fire_key": "recurring:nightly-report:2027-03-14T07:00:00Z",
                        "run_id": nightly[0]["run_id"],
                        "scheduled_for": "2027-03-14T03:00:00-04:00"}]
    for entry in doc["skipped"]:
        assert {"workflow_id", "scheduled_for", "reason"} <= set(entry)
    again = clockwf("tick", "--db", db, "--now", "2027-03-14T07:00:30Z", "--format", "json")
    assert again.json()["launched"] == []

    listed = clockwf("runs", "nightly-report", "--db", db, "--format", "json").json()["runs"]
    assert len(listed) == 1
    run = listed[0]
    assert set(run) >= {"run_id", "workflow_id", "workflow_version", "trigger_type",
                        "fire_key", "scheduled_for", "status", "created_at", "metadata"}
    assert run["status"] == "queued" and run["metadata"]["dst"] == "gap_shifted"
    human = clockwf("runs", "--db", db)
    assert "fired 03:00 EDT: DST gap" in human.out

    answer = clockwf("explain", "nightly-report", "--at", "2027-03-14T02:30", "--db", db,
                     "--now", "2027-03-14T08:00:00Z")
    assert answer.code == 0
    assert "02:30 does not exist on 2027-03-14" in answer.out
    assert f"launched as run {run['run_id']}" in answer.out

    filled = clockwf("backfill", "nightly-report", "--from", "2027-03-13T00:00",
                     "--to", "2027-03-14T12:00", "--db", db, "--now", "2027-03-14T12:00:00Z",
                     "--format", "json").json()
    assert [e["fire_key"] for e in filled["launched"]] == [
        "recurring:nightly-report:2027-03-13T07:30:00Z"]
    assert [e["fire_key"] for e in filled["existing"]] == [
        "recurring:nightly-report:2027-03-14T07:00:00Z"]
    trig = clockwf("runs", "--db", db, "--trigger", "recurring", "--format", "json")
    assert any(r["metadata"]["backfill"] for r in trig.json()["runs"])


@pytest.mark.slow
def test_emit_and_manual_runs(clockwf: Clockwf, db: str) -> None:
    publish_examples(clockwf, db)
    emitted = clockwf("emit", "invoice.created", "--id", "inv-7", "--payload", '{"n": 7}',
                      "--db", db, "--format", "json").json()
    assert [r["fire_key"] for r in emitted["runs"]] == [
        "event:invoice-created:invoice.created:inv-7"]
    dup = clockwf("emit", "invoice.created", "--id", "inv-7", "--db", db, "--format", "json")
    assert dup.json()["runs"][0]["duplicate"] is True
    bad_payload = clockwf("emit", "invoice.created", "--payload", "{nope", "--db", db)
    assert bad_payload.code == 1 and "not valid JSON" in bad_payload.err
    manual = clockwf("run", "manual-cleanup", "--key", "k1", "--db", db, "--format", "json")
    assert manual.json()["fire_key"] == "manual:manual-cleanup:k1"
    again = clockwf("run", "manual-cleanup", "--key", "k1", "--db", db)
    assert again.code == 0 and "used already" in again.out


def test_run_wait_executes_in_the_foreground(clockwf: Clockwf, db: str) -> None:
    publish_examples(clockwf, db)
    done = clockwf("run", "manual-cleanup", "--wait", "--db", db)
    assert done.code == 0
    assert "would clean /tmp/clockwf-example" in done.out
    shown = clockwf("runs", "show", "last", "--db", db, "--format", "json").json()
    assert shown["status"] == "succeeded"
    assert shown["steps"][0]["exit_code"] == 0
    assert "would clean" in shown["steps"][0]["output"]


def test_simulate_shows_dst_and_downtime(clockwf: Clockwf) -> None:
    result = clockwf("simulate", str(ROOT / "examples" / "nightly-report.yaml"),
                     "--from", "2027-03-10T00:00:00Z", "--to", "2027-03-17T00:00:00Z",
                     "--down", "2027-03-11T00:00:00Z..2027-03-13T10:00:00Z",
                     "--format", "json")
    assert result.code == 0, result.err
    occ = {o["scheduled_for"]: o for o in result.json()["occurrences"]}
    assert occ["2027-03-10T02:30:00-05:00"]["outcome"] == "launched"
    # Down from 03-11 to 03-13 10:00 UTC: catchup_window 6h, so 03-11 and 03-12 are too old
    # (outside the window) and 03-13 02:30 EST (07:30Z) is caught up at 10:00Z.
    assert occ["2027-03-11T02:30:00-05:00"]["outcome"] == "skipped"
    assert occ["2027-03-11T02:30:00-05:00"]["reason"] == "outside_window"
    assert "missed while down" in occ["2027-03-11T02:30:00-05:00"]["note"]
    assert occ["2027-03-13T02:30:00-05:00"]["outcome"] == "launched"
    assert occ["2027-03-13T02:30:00-05:00"]["catchup"] is True
    gap = occ["2027-03-14T03:00:00-04:00"]
    assert gap["outcome"] == "launched" and "does not exist" in gap["note"]
    assert occ["2027-03-16T02:30:00-04:00"]["outcome"] == "launched"


def test_simulate_overlap_with_long_runs(clockwf: Clockwf, tmp_path: Path) -> None:
    flow = tmp_path / "slow.yaml"
    flow.write_text("id: slow\ntrigger: {type: recurring, cron: '*/10 * * * *'}\n"
                    "policy: {overlap: skip}\nsteps:\n  - run: 'true'\n")
    result = clockwf("simulate", str(flow), "--from", "2027-01-01T00:00:00Z",
                     "--to", "2027-01-01T01:00:00Z", "--run-duration", "25m",
                     "--format", "json")
    outcomes = [(o["scheduled_for"][11:16], o["outcome"], o["reason"])
                for o in result.json()["occurrences"]]
    assert outcomes == [
        ("00:10", "launched", None), ("00:20", "skipped", "overlap"),
        ("00:30", "skipped", "overlap"), ("00:40", "launched", None),
        ("00:50", "skipped", "overlap"), ("01:00", "skipped", "overlap")]


def test_status_exit_codes(clockwf: Clockwf, db: str) -> None:
    publish_examples(clockwf, db)
    unhealthy = clockwf("status", "--db", db, "--format", "json", "--now", NOW)
    assert unhealthy.code == 1
    assert any("no daemon" in p for p in unhealthy.json()["problems"])


def test_unreachable_store_exits_3(clockwf: Clockwf) -> None:
    result = clockwf("list", "--db", "postgresql://postgres@127.0.0.1:1/nothing")
    assert result.code == 3
    assert "cannot reach PostgreSQL at 127.0.0.1:1" in result.err


@pytest.mark.slow
def test_namespaces_do_not_see_each_other(clockwf: Clockwf, db: str) -> None:
    assert clockwf("publish", "--db", db, "--namespace", "team-a", "--now", NOW,
                   EXAMPLES[0]).code == 0
    a = clockwf("list", "--db", db, "--namespace", "team-a", "--format", "json").json()
    b = clockwf("list", "--db", db, "--namespace", "team-b", "--format", "json").json()
    assert len(a["workflows"]) == 1 and b["workflows"] == []
    assert clockwf("show", Path(EXAMPLES[0]).stem, "--db", db, "--namespace", "team-b").code == 1
    bad = clockwf("list", "--db", db, "--namespace", "Team A")
    assert bad.code == 1 and "invalid namespace" in bad.err


def test_simulate_orders_the_two_passes_of_a_fall_back_hour(clockwf: Clockwf,
                                                            tmp_path: Path) -> None:
    flow = tmp_path / "q.yaml"
    flow.write_text("id: q\ntrigger: {type: recurring, cron: '*/30 * * * *', "
                    "timezone: America/New_York}\nsteps:\n  - run: 'true'\n")
    result = clockwf("simulate", str(flow), "--from", "2027-11-07T04:45:00Z",
                     "--to", "2027-11-07T07:05:00Z", "--format", "json")
    utcs = [o["utc"] for o in result.json()["occurrences"]]
    assert utcs == sorted(utcs)
    assert [o["scheduled_for"] for o in result.json()["occurrences"]][:4] == [
        "2027-11-07T01:00:00-04:00", "2027-11-07T01:30:00-04:00",
        "2027-11-07T01:00:00-05:00", "2027-11-07T01:30:00-05:00"]


def test_a_paused_workflow_lists_no_next_fire(clockwf: Clockwf, db: str) -> None:
    publish_examples(clockwf, db)
    assert clockwf("pause", "nightly-report", "--db", db).code == 0
    listed = clockwf("list", "--db", db, "--format", "json").json()["workflows"]
    nightly = next(w for w in listed if w["workflow_id"] == "nightly-report")
    assert nightly["status"] == "paused" and nightly["next_fire_at"] is None
    heartbeat = next(w for w in listed if w["workflow_id"] == "heartbeat")
    assert heartbeat["next_fire_at"] is not None


def test_an_internal_error_is_a_message_not_a_traceback(clockwf: Clockwf, db: str) -> None:
    # A store file that is not a database: a clear message, never a traceback.
    Path(db).write_text("not a database")
    result = clockwf("list", "--db", db)
    assert result.code in (1, 3) and "Traceback" not in result.err and result.err.strip()
