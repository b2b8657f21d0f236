"""``tick``, ``daemon``, ``run``, ``emit``, ``backfill``, ``explain``, ``simulate``, ``status``."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Annotated

import typer

from clockwf import documents, logs, render, runs
from clockwf.cli.app import (
    DbOpt,
    FormatOpt,
    LogFormat,
    NamespaceOpt,
    NowOpt,
    OutputFormat,
    app,
)
from clockwf.clock import SystemClock, parse_now
from clockwf.errors import ClockwfError, InvalidInput
from clockwf.launcher import PAYLOAD_LIMIT, launched_by
from clockwf.scheduler import DEFAULT_BATCH
from clockwf.scheduler import tick as run_tick
from clockwf.store import open_store
from clockwf.timeutil import iso, iso_utc, parse_duration, parse_instant, zone_or_offset

PAYLOAD_HELP = (f"JSON payload; @FILE reads it from a file, - from standard input. At most "
                f"{PAYLOAD_LIMIT // 1024} KiB as compact JSON.")
PayloadOpt = Annotated[str | None, typer.Option("--payload", help=PAYLOAD_HELP)]


def _duration(text: str, option: str) -> float:
    try:
        return parse_duration(text).total_seconds()
    except ClockwfError as exc:
        raise typer.BadParameter(exc.message, param_hint=option) from None


def _instant(text: str, option: str, zone: tzinfo = UTC) -> datetime:
    try:
        return parse_instant(text, default_tz=zone, what=option)
    except InvalidInput as exc:
        raise typer.BadParameter(exc.message, param_hint=option) from None


@app.command()
def tick(
    db: DbOpt = None, namespace: NamespaceOpt = "default", now: NowOpt = None,
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Run exactly one claim-launch-advance pass at --now (default: the clock). Executes
    nothing. Re-running it at the same --now launches nothing new."""
    at = parse_now(now)
    with open_store(db, namespace) as store:
        report = run_tick(store, at, instance=f"cli:{launched_by()}")
    if fmt is OutputFormat.json:
        render.emit_json(report.as_json())
        return
    render.text(f"tick at {iso_utc(report.now)}: {len(report.launched)} launched, "
                f"{len(report.skipped)} skipped, {len(report.completed)} completed, "
                f"{len(report.missed)} missed")
    if report.launched:
        render.table("launched", ["workflow", "run", "scheduled for", "fire key"],
                     [(e["workflow_id"], e["run_id"], e["scheduled_for"], e["fire_key"])
                      for e in report.launched])
    if report.skipped:
        render.table("skipped", ["workflow", "scheduled for", "reason", "detail"],
                     [(e["workflow_id"], e["scheduled_for"]
                       + (f" .. {e['until']} ({e['count']})" if e.get("count") else ""),
                       e["reason"], e.get("detail") or "") for e in report.skipped])


@app.command()
def daemon(
    db: DbOpt = None, namespace: NamespaceOpt = "default",
    max_sleep: Annotated[str, typer.Option("--max-sleep", envvar="CLOCKWF_MAX_SLEEP",
                                           help="Longest sleep between ticks.")] = "60s",
    workers: Annotated[int, typer.Option("--workers", envvar="CLOCKWF_WORKERS",
                                         min=1, max=256, help="Runs executed at once.")] = 4,
    no_execute: Annotated[bool, typer.Option(
        "--no-execute", envvar="CLOCKWF_NO_EXECUTE",
        help="Only schedule; leave execution to `clockwf worker`.")] = False,
    lease: Annotated[str, typer.Option("--lease", envvar="CLOCKWF_LEASE",
                                       help="Run lease; a dead daemon's runs become "
                                            "interrupted after it.")] = "30s",
    grace: Annotated[str, typer.Option("--grace", envvar="CLOCKWF_GRACE",
                                       help="On SIGTERM, how long running steps may "
                                            "finish.")] = "30s",
    batch: Annotated[int, typer.Option(
        "--batch", envvar="CLOCKWF_BATCH", min=1, max=10000,
        help="Schedules claimed per transaction.")] = DEFAULT_BATCH,
    exit_when_idle: Annotated[bool, typer.Option(
        "--exit-when-idle", help="Exit once nothing is due and no run is queued or "
        "running (demos and batch jobs).")] = False,
    run_for: Annotated[str | None, typer.Option(
        "--run-for", help="Exit after this long (demos and tests).")] = None,
    metrics_listen: Annotated[str | None, typer.Option(
        "--metrics-listen", envvar="CLOCKWF_METRICS_LISTEN",
        help="Serve Prometheus metrics on host:port/metrics (e.g. 127.0.0.1:9464).")] = None,
    log_format: Annotated[LogFormat, typer.Option("--log-format", envvar="CLOCKWF_LOG_FORMAT",
                                                  help="human or json lines.")] = LogFormat.human,
    log_level: Annotated[str, typer.Option("--log-level", envvar="CLOCKWF_LOG_LEVEL",
                                           help="debug, info, warning or error.")] = "info",
) -> None:
    """Schedule and execute: tick, sleep until the earliest due instant, repeat.

    On SIGTERM/SIGINT it stops ticking and claiming and lets running steps finish within
    --grace (a second signal stops at once). Speaks sd_notify when $NOTIFY_SOCKET is set.
    With PostgreSQL it holds at most workers + 5 connections (--no-execute: 3).
    """
    from clockwf.daemon import Daemon, DaemonOptions, store_connections

    if metrics_listen is not None and not re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[^:\s]*):\d{1,5}",
                                                       metrics_listen):
        raise typer.BadParameter(f"{metrics_listen!r} is not host:port (127.0.0.1:9464)",
                                 param_hint="--metrics-listen")

    logs.setup(log_format.value, log_level)
    options = DaemonOptions(
        max_sleep=_duration(max_sleep, "--max-sleep"), batch_size=batch,
        execute=not no_execute, workers=workers, lease_seconds=_duration(lease, "--lease"),
        grace=_duration(grace, "--grace"), exit_when_idle=exit_when_idle,
        run_for=_duration(run_for, "--run-for") if run_for else None,
        metrics_listen=metrics_listen,
    )
    with open_store(db, namespace, pool_size=store_connections(workers, not no_execute),
                    application_name="clockwf-daemon") as store:
        d = Daemon(store, clock=SystemClock(), options=options)
        d.install_signals()
        d.run()


@app.command()
def run(
    workflow_id: Annotated[str, typer.Argument(metavar="ID")],
    payload: PayloadOpt = None,
    key: Annotated[str | None, typer.Option(
        "--key", help="Idempotency key: a second run with the same key starts nothing.")] = None,
    wait: Annotated[bool, typer.Option(
        "--wait", help="Execute the run here, streaming its output; exit 0 if it "
        "succeeded, 1 otherwise.")] = False,
    db: DbOpt = None, namespace: NamespaceOpt = "default", now: NowOpt = None,
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Start a workflow by hand (also when paused)."""
    data = runs.parse_payload(payload)
    with open_store(db, namespace) as store:
        started = runs.start_manual(store, workflow_id, parse_now(now), payload=data, key=key)
        status = None
        if wait and started.run_id is not None:
            from clockwf.executor import Executor

            logs.setup("human", "warning")
            executor = Executor(store, owner=f"cli:{launched_by()}:{os.getpid()}", workers=1,
                                clock=SystemClock(),
                                on_output=None if fmt is OutputFormat.json else _stream)
            status = executor.execute(started.run_id)
    if fmt is OutputFormat.json:
        render.emit_json(documents.started(started, status))
    elif started.run_id is None:
        render.text(f"{workflow_id}: key {key!r} was used already by run "
                    f"{started.existing_run_id}; nothing started")
    else:
        render.text(f"started run {started.run_id} of {workflow_id} ({started.fire_key})"
                    + (f": {status}" if status else ""))
    if wait and status is not None and status != "succeeded":
        raise typer.Exit(1)


def _stream(line: str) -> None:
    render.text(line.rstrip("\n"))


@app.command()
def emit(
    event: Annotated[str, typer.Argument(metavar="EVENT")],
    payload: PayloadOpt = None,
    event_id: Annotated[str | None, typer.Option(
        "--id", help="Event id: emitting the same id again starts nothing.")] = None,
    db: DbOpt = None, namespace: NamespaceOpt = "default", now: NowOpt = None,
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Emit an event: one run for every published, unpaused workflow on it."""
    data = runs.parse_payload(payload)
    with open_store(db, namespace) as store:
        started = runs.emit(store, event, parse_now(now), payload=data, event_id=event_id)
    if fmt is OutputFormat.json:
        render.emit_json(documents.emitted(event, started))
        return
    if not started:
        render.text(f"no published, unpaused workflow listens to {event!r}")
    for s in started:
        render.text(f"{s.workflow_id}: run {s.run_id}" if s.run_id is not None else
                    f"{s.workflow_id}: already started as run {s.existing_run_id} "
                    f"({s.fire_key})")


def _zone_for(db: str | None, namespace: str, workflow_id: str) -> tzinfo:
    with open_store(db, namespace) as store, store.read() as tx:
        schedule = tx.get_schedule(workflow_id)
    return zone_or_offset(schedule["timezone"]) if schedule else UTC


@app.command()
def backfill(
    workflow_id: Annotated[str, typer.Argument(metavar="ID")],
    start: Annotated[str, typer.Option("--from", help="ISO 8601; naive = the schedule's "
                                                      "zone.")],
    end: Annotated[str, typer.Option("--to", help="ISO 8601; naive = the schedule's zone.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would "
                                                            "launch.")] = False,
    db: DbOpt = None, namespace: NamespaceOpt = "default", now: NowOpt = None,
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Launch every occurrence in a range that has no run yet, marked backfill."""
    zone = _zone_for(db, namespace, workflow_id)
    with open_store(db, namespace) as store:
        report = runs.backfill(store, workflow_id, _instant(start, "--from", zone),
                               _instant(end, "--to", zone), parse_now(now), dry_run=dry_run)
    if fmt is OutputFormat.json:
        render.emit_json(report.as_json())
        return
    if dry_run:
        render.text(f"would launch {len(report.would_launch)}; {len(report.existing)} already "
                    "have a run")
        rows = [(e["scheduled_for"], e["fire_key"], "would launch") for e in report.would_launch]
    else:
        render.text(f"launched {len(report.launched)}; {len(report.existing)} already had a "
                    "run")
        rows = [(e["scheduled_for"], e["fire_key"], f"run {e['run_id']}")
                for e in report.launched]
    rows += [(e["scheduled_for"], e["fire_key"], f"exists: run {e['run_id']}")
             for e in report.existing]
    if rows:
        # The fire key holds the UTC instant: it orders the two passes of a fall-back hour.
        render.table(None, ["scheduled for", "fire key", "outcome"],
                     sorted(rows, key=lambda row: row[1]))


@app.command()
def explain(
    workflow_id: Annotated[str, typer.Argument(metavar="ID")],
    at: Annotated[str, typer.Option("--at", help="ISO 8601; naive = the schedule's zone.")],
    db: DbOpt = None, namespace: NamespaceOpt = "default", now: NowOpt = None,
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Say what happened to the occurrence nearest an instant: launched as run N, skipped and
    why, not due yet, or not an occurrence."""
    zone = _zone_for(db, namespace, workflow_id)
    instant, note = _explain_instant(at, zone)
    with open_store(db, namespace) as store:
        answer = runs.explain(store, workflow_id, instant, parse_now(now), note=note)
    if fmt is OutputFormat.json:
        render.emit_json(answer.as_json())
        return
    render.text(answer.message)


def _explain_instant(text: str, zone: tzinfo) -> tuple[datetime, str | None]:
    """Like --from/--to, but a local time that does not exist (02:30 on a spring-forward day)
    or exists twice is accepted: people ask exactly about those. Returns a note saying so."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 date-time",
                                 param_hint="--at") from None
    if value.tzinfo is not None:
        return value.astimezone(UTC), None
    name = getattr(zone, "key", "UTC")
    first = value.replace(tzinfo=zone, fold=0)
    second = value.replace(tzinfo=zone, fold=1)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != value:
        return first.astimezone(UTC), (
            f"{value:%H:%M} does not exist on {value:%Y-%m-%d} in {name} (the clocks skip it)")
    if first.utcoffset() != second.utcoffset():
        return first.astimezone(UTC), (
            f"{value:%H:%M} happens twice on {value:%Y-%m-%d} in {name}; this answers for the "
            f"first ({iso(first)}); give an offset to ask about the second ({iso(second)})")
    return first.astimezone(UTC), None


@app.command()
def simulate(
    target: Annotated[str, typer.Argument(metavar="FILE|ID",
                                          help="A definition file, or a published id.")],
    start: Annotated[str, typer.Option("--from", help="ISO 8601 (naive: UTC).")],
    end: Annotated[str, typer.Option("--to", help="ISO 8601 (naive: UTC).")],
    down: Annotated[list[str] | None, typer.Option(
        "--down", help="FROM..TO: no daemon runs in this window (repeatable).")] = None,
    run_duration: Annotated[str, typer.Option(
        "--run-duration", help="How long each run takes (to see overlap).")] = "0s",
    db: DbOpt = None, namespace: NamespaceOpt = "default",
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Run the real tick on a simulated clock in a throwaway store and show what happens to
    every occurrence: launched, DST-shifted, coalesced, missed while down, skipped by overlap."""
    from clockwf.simulate import parse_down
    from clockwf.simulate import simulate as run_simulation
    from clockwf.validate import FileReport, validate_path

    t0 = _instant(start, "--from")
    t1 = _instant(end, "--to")
    windows = [parse_down(d, lambda s: _instant(s, "--down")) for d in (down or [])]
    if os.path.exists(target):
        report = validate_path(target, t0)
    else:
        with open_store(db, namespace) as store, store.read() as tx:
            from clockwf.lifecycle import current_definition

            workflow, version, _definition = current_definition(tx, target)
            row = tx.get_version(target, version)
        assert row is not None
        from clockwf.validate import validate_source

        report = validate_source(row["source"], f"{target} (version {version})", t0)
        del workflow
    if not report.ok:
        from clockwf.errors import DefinitionInvalid

        raise DefinitionInvalid(report.errors)
    assert isinstance(report, FileReport)
    result = run_simulation(report, t0, t1, down=windows,
                            run_duration=timedelta(seconds=_duration(run_duration,
                                                                     "--run-duration")))
    if fmt is OutputFormat.json:
        render.emit_json(result.as_json())
        return
    rows = []
    for o in result.occurrences:
        what = o.outcome
        if o.outcome == "launched":
            what = f"launched run {o.run_id}" + (" (catch-up)" if o.catchup else "")
        elif o.outcome == "skipped":
            what = f"skipped: {o.reason}" + (f" ×{o.count}" if o.count > 1 else "")
        rows.append((iso(o.scheduled_for), what, iso_utc(o.fired_at) or "", o.note or ""))
    render.table(f"{result.workflow_id}: {len(result.occurrences)} occurrence rows, "
                 f"{result.ticks} ticks", ["scheduled for", "outcome", "ticked at", "note"],
                 rows)


@app.command()
def status(
    overdue_after: Annotated[str, typer.Option(
        "--overdue-after", envvar="CLOCKWF_OVERDUE_AFTER",
        help="Exit 1 when a schedule is overdue by more than this.")] = "5m",
    stale_after: Annotated[str, typer.Option(
        "--stale-after", envvar="CLOCKWF_STALE_AFTER",
        help="Exit 1 when no daemon has ticked within this.")] = "5m",
    db: DbOpt = None, namespace: NamespaceOpt = "default", now: NowOpt = None,
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Daemons, their last tick, queued and running runs, the most overdue schedule. Exit 1
    when a schedule is overdue or no daemon has ticked recently (for monitoring)."""
    from clockwf.monitor import health, pool_text

    at = parse_now(now)
    with open_store(db, namespace) as store:
        report = health(store, at, overdue_after=timedelta(
            seconds=_duration(overdue_after, "--overdue-after")),
            stale_after=timedelta(seconds=_duration(stale_after, "--stale-after")))
    if fmt is OutputFormat.json:
        render.emit_json(report.as_json())
    else:
        render.table("daemons", ["instance", "role", "host", "pid", "last tick", "heartbeat",
                                 "state", "connections"],
                     [(d["instance_id"], d["role"], d["hostname"], d["pid"],
                       iso_utc(d.get("last_tick_at")) or "", iso_utc(d["heartbeat_at"]),
                       "stopped" if d.get("stopped_at") else (d.get("status") or ""),
                       pool_text(d))
                      for d in report.daemons])
        render.text(f"runs: {report.queued} queued, {report.running} running")
        if report.overdue is not None:
            render.text(f"most overdue: {report.overdue['workflow_id']} due "
                        f"{iso_utc(report.overdue['next_fire_at'])}")
        for problem in report.problems:
            render.error(problem)
        if not report.problems:
            render.text("ok")
    if report.problems:
        raise typer.Exit(1)
