"""``publish``, ``pause``, ``resume``, ``delete``, ``list``, ``show``: definitions in a store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from clockwf import lifecycle, render
from clockwf.cli.app import DbOpt, FormatOpt, NamespaceOpt, NowOpt, OutputFormat, app
from clockwf.clock import parse_now
from clockwf.store import open_store
from clockwf.store.base import Row
from clockwf.timeutil import humanize_delta, iso, iso_utc, zone_or_offset
from clockwf.validate import validate_path


def _local(when: datetime | None, zone: str | None) -> datetime | None:
    return None if when is None else when.astimezone(zone_or_offset(zone or "UTC"))


def _when(local: datetime | None, now: datetime) -> str:
    """``2027-03-14 03:00 EDT (in 19h)`` for tables."""
    if local is None:
        return ""
    stamp = f"{local:%Y-%m-%d %H:%M:%S}" if local.second else f"{local:%Y-%m-%d %H:%M}"
    return f"{stamp} {local.tzname()} ({humanize_delta(local - now)})"


def trigger_label(row: Row) -> str:
    """``one-time``, ``recurring 02:30 America/New_York``, ``event invoice.created``, ``manual``."""
    kind = row["trigger_type"]
    if kind == "event":
        return f"event {row.get('event_name')}"
    if kind == "manual":
        return "manual"
    if kind == "schedule":
        return "one-time"
    from clockwf.schedule import ScheduleSpec

    if row.get("cron") is None and not row.get("trigger_spec"):
        return "recurring"
    spec = ScheduleSpec.from_row({
        "workflow_id": row["workflow_id"], "trigger_type": "recurring",
        "timezone": row.get("timezone") or "UTC", "cron": row.get("cron"), "run_at": None,
        "dst_gap": "run_after", "dst_fold": "once", "jitter_s": 0, "catchup": "latest",
        "catchup_window_s": 0, "grace_s": 0, "max_catchup": 1, "overlap": "allow",
        "trigger_spec": row.get("trigger_spec")})
    return spec.label


def _workflow_status(row: Row) -> str:
    return "paused" if row.get("paused") else "published"


def _next_fire(row: Row) -> datetime | None:
    """When it will fire next: nothing while paused (the schedule keeps its place, but a
    resume starts again from then)."""
    if row.get("paused") or row.get("schedule_status") != "scheduled":
        return None
    return _local(row.get("next_fire_at"), row.get("timezone"))


def _workflow_json(row: Row) -> dict[str, Any]:
    return {
        "workflow_id": row["workflow_id"],
        "status": _workflow_status(row),
        "trigger_type": row["trigger_type"],
        "version": row["current_version"],
        "next_fire_at": iso(_next_fire(row)),
        "schedule_status": row.get("schedule_status"),
    }


@app.command()
def publish(
    files: Annotated[list[str], typer.Argument(metavar="FILE",
                                               help="Definition files; all or nothing.")],
    db: DbOpt = None, namespace: NamespaceOpt = "default", now: NowOpt = None,
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Validate and store definitions as new versions, with their schedules, in one transaction.

    Identical content is reported unchanged. If any file is invalid, nothing is published.
    """
    at = parse_now(now)
    reports = [validate_path(name, at, for_publish=True) for name in files]
    with open_store(db, namespace) as store:
        published = lifecycle.publish(store, reports, at)
    if fmt is OutputFormat.json:
        render.emit_json({"published": [p.as_json() for p in published]})
        return
    rows = []
    for p in published:
        nxt = _local(p.next_fire_at, p.timezone)
        rows.append((p.workflow_id, p.status, p.version, p.trigger_type, _when(nxt, at)))
    render.table(None, ["workflow", "status", "version", "trigger", "next fire"], rows)


@app.command()
def pause(
    workflow_id: Annotated[str, typer.Argument(metavar="ID")],
    note: Annotated[str | None, typer.Option("--note", help="Why (shown by show).")] = None,
    db: DbOpt = None, namespace: NamespaceOpt = "default", now: NowOpt = None,
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Stop a workflow's trigger (time and event). Manual runs still start."""
    with open_store(db, namespace) as store:
        change = lifecycle.pause(store, workflow_id, parse_now(now), note)
    _state(change, fmt)


@app.command()
def resume(
    workflow_id: Annotated[str, typer.Argument(metavar="ID")],
    db: DbOpt = None, namespace: NamespaceOpt = "default", now: NowOpt = None,
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Re-enable a paused workflow from now; occurrences during the pause are recorded as
    skipped, not caught up."""
    with open_store(db, namespace) as store:
        change = lifecycle.resume(store, workflow_id, parse_now(now))
    _state(change, fmt)


@app.command()
def delete(
    workflow_id: Annotated[str, typer.Argument(metavar="ID")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Confirm.")] = False,
    db: DbOpt = None, namespace: NamespaceOpt = "default", now: NowOpt = None,
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Remove a workflow and its schedule. Its runs are kept; its queued runs are cancelled."""
    if not yes:
        render.error(f"deleting {workflow_id} removes its definition and schedule; "
                     "add --yes to confirm")
        raise typer.Exit(1)
    with open_store(db, namespace) as store:
        change = lifecycle.delete(store, workflow_id, parse_now(now))
    _state(change, fmt)


def _state(change: lifecycle.StateChange, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        render.emit_json({"workflow_id": change.workflow_id, "status": change.status,
                          "next_fire_at": iso_utc(change.next_fire_at),
                          "skipped": change.skipped, "detail": change.detail})
        return
    text = f"{change.workflow_id}: {change.status}"
    if change.skipped:
        text += f"; {change.skipped} occurrence(s) during the pause recorded as skipped"
    if change.next_fire_at is not None:
        text += f"; next fire {iso_utc(change.next_fire_at)}"
    if change.detail:
        text += f"; {change.detail}"
    render.text(text)


@app.command("list")
def list_(
    trigger: Annotated[str | None, typer.Option(
        "--trigger", help="manual, event, schedule, recurring, or scheduled (both time "
        "kinds).")] = None,
    status: Annotated[str | None, typer.Option(
        "--status", help="published, paused, scheduled, completed or missed.")] = None,
    db: DbOpt = None, namespace: NamespaceOpt = "default", now: NowOpt = None,
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """List the published workflows with their trigger and next fire."""
    with open_store(db, namespace) as store:
        rows = lifecycle.list_workflows(store, trigger=trigger, status=status)
    if fmt is OutputFormat.json:
        render.emit_json({"workflows": [_workflow_json(r) for r in rows]})
        return
    at = parse_now(now)
    table = []
    for r in rows:
        nxt = _next_fire(r)
        done = r.get("schedule_status") == "completed" and r.get("schedule_reason")
        table.append((r["workflow_id"], _workflow_status(r) + (
            f" / {r['schedule_status']}" if r.get("schedule_status") else "") + (
            f" ({r['schedule_reason']})" if done else ""),
            trigger_label(r), r["current_version"], _when(nxt, at)))
    render.table(None, ["workflow", "status", "trigger", "version", "next fire"], table)


@app.command()
def show(
    workflow_id: Annotated[str, typer.Argument(metavar="ID")],
    version: Annotated[int | None, typer.Option("--version", help="An older version.")] = None,
    db: DbOpt = None, namespace: NamespaceOpt = "default",
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Show a workflow: its definition, versions and schedule state."""
    with open_store(db, namespace) as store:
        detail = lifecycle.show(store, workflow_id, version)
    wf, sched = detail.workflow, detail.schedule
    merged = dict(wf)
    if sched is not None:
        merged.update(next_fire_at=sched["next_fire_at"], timezone=sched["timezone"],
                      schedule_status=sched["status"], cron=sched["cron"],
                      trigger_spec=sched.get("trigger_spec"))
    doc = _workflow_json(merged)
    doc.update({
        "name": detail.definition.name,
        "description": detail.definition.description,
        "paused_note": wf.get("pause_note"),
        "shown_version": int(detail.version["version"]),
        "schedule": None if sched is None else {
            "status": sched["status"],
            "next_fire_at": iso(_local(sched["next_fire_at"], sched["timezone"])),
            "last_fire_key": sched["last_fire_key"],
            "last_fired_at": iso_utc(sched["last_fired_at"]),
            "enabled": sched["status"] == "scheduled",
            "status_reason": sched.get("status_reason"),
        },
        "versions": [{"version": v["version"], "published_at": iso_utc(v["published_at"])}
                     for v in detail.versions],
        "definition": json.loads(detail.version["definition"]),
    })
    if fmt is OutputFormat.json:
        render.emit_json(doc)
        return
    label = trigger_label(merged)
    render.text(f"{wf['workflow_id']} — {doc['status']}, version {wf['current_version']}, "
                f"{label}")
    if detail.definition.name:
        render.text(f"name: {detail.definition.name}")
    if wf.get("pause_note"):
        render.text(f"paused: {wf['pause_note']}")
    if sched is not None:
        nxt = _local(sched["next_fire_at"], sched["timezone"])
        at = datetime.now(UTC)
        render.text(f"schedule: {sched['status']}"
                    + (f", next fire {iso(nxt)} ({humanize_delta(nxt - at)})" if nxt else "")
                    + (f", last fired {sched['last_fire_key']}" if sched["last_fire_key"] else "")
                    + (f" ({sched['status_reason']})" if sched.get("status_reason") else ""))
    render.table("versions", ["version", "published at", "source"],
                 [(v["version"], iso_utc(v["published_at"]), v.get("source_path") or "")
                  for v in detail.versions])
    render.text(f"definition (version {detail.version['version']}):")
    render.text(detail.version["source"].rstrip())
