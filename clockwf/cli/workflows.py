"""``publish``, ``pause``, ``resume``, ``delete``, ``list``, ``show``: definitions in a store."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated

import typer

from clockwf import documents, lifecycle, render, sources
from clockwf import plan as plan_mod
from clockwf.cli.app import DbOpt, FormatOpt, NamespaceOpt, NowOpt, OutputFormat, app
from clockwf.cli.definitions import DefinitionFiles
from clockwf.clock import parse_now
from clockwf.errors import InvalidInput
from clockwf.store import open_store
from clockwf.store.base import Row
from clockwf.timeutil import humanize_delta, iso, iso_utc
from clockwf.validate import FileReport


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


PathsArg = Annotated[list[str], typer.Argument(
    metavar="FILE|DIR", help="Definition files, or directories (every *.yaml / *.yml under "
    "them, .github/ and hidden directories skipped); all or nothing.")]
SourceOpt = Annotated[str | None, typer.Option(
    "--source", envvar="CLOCKWF_SOURCE", help="Name of the set these definitions come from, "
    "recorded on each version; default for one DIR: its git remote and path, or its absolute "
    "path.")]
PruneOpt = Annotated[str | None, typer.Option(
    "--prune", metavar="[=pause|=delete]",
    help="Also pause (default) or delete the workflows this source published before that are "
         "not in the set, in the same transaction; their runs are kept.")]


def _definition_set(paths: list[str], source: str | None, now: datetime,
                    ) -> tuple[list[FileReport], str | None]:
    """Validated reports of the files (directories expanded) and the source name."""
    dirs = [p for p in paths if p != "-" and os.path.isdir(p)]
    if source is None and len(dirs) == 1 and len(paths) == 1:
        source = sources.default_source(dirs[0])
    reader = DefinitionFiles()
    return [reader.validate(name, now, for_publish=True)
            for name in sources.expand(paths)], source


@app.command()
def publish(
    files: PathsArg,
    source: SourceOpt = None,
    prune: PruneOpt = None,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Confirm a prune that removes more than half of the source's "
                            "workflows.")] = False,
    db: DbOpt = None, namespace: NamespaceOpt = "default", now: NowOpt = None,
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Validate and store definitions as new versions, with their schedules, in one transaction.

    Identical content from the same source is reported unchanged. If any file is invalid,
    nothing is published. With --prune, what the same source published before and is no
    longer in the set is paused (or deleted with --prune=delete).
    """
    at = parse_now(now)
    reports, source = _definition_set(files, source, at)
    with open_store(db, namespace) as store:
        outcome = lifecycle.publish_set(store, reports, at, source=source, prune=prune,
                                        confirm=yes)
    if fmt is OutputFormat.json:
        render.emit_json(documents.publish_outcome(source, outcome))
        return
    rows: list[tuple[object, ...]] = []
    for p in outcome.published:
        nxt = documents.local(p.next_fire_at, p.timezone)
        rows.append((p.workflow_id, p.status, p.version, p.trigger_type, _when(nxt, at)))
    for c in outcome.pruned:
        rows.append((c.workflow_id, f"pruned ({c.status})", "", "", c.detail or ""))
    for c in outcome.resumed:
        rows.append((c.workflow_id, "resumed (back after a prune)", "", "",
                     _when(documents.local(c.next_fire_at, None), at)))
    render.table(None, ["workflow", "status", "version", "trigger", "next fire"], rows)
    if source and prune:
        render.text(f"source: {source}")


@app.command()
def diff(
    files: PathsArg,
    source: SourceOpt = None,
    prune: PruneOpt = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Exit 1 when the publish would change anything (drift in CI).")
    ] = False,
    db: DbOpt = None, namespace: NamespaceOpt = "default", now: NowOpt = None,
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Show what publish would do with the same arguments, without doing it.

    Per workflow: new, changed (a unified diff, and the next fires before and after when the
    trigger changes), unchanged, and with --prune removed. Exit 0; with --check, exit 1 when
    anything would change.
    """
    at = parse_now(now)
    reports, source = _definition_set(files, source, at)
    if prune is not None and prune not in lifecycle.PRUNE_MODES:
        raise InvalidInput(f"--prune must be pause or delete; got {prune!r}")
    if prune is not None and not source:
        raise InvalidInput("--prune needs a source: give a directory, or name the set with "
                           "--source NAME")
    with open_store(db, namespace) as store:
        result = plan_mod.plan(store, reports, at, source=source, prune=prune)
    if fmt is OutputFormat.json:
        render.emit_json({"source": source, "changed": result.changed,
                          "refused": result.refused,
                          "workflows": [c.as_json() for c in result.changes]})
    else:
        render.diff_plan(result.changes, result.refused)
    if check and result.changed:
        raise typer.Exit(1)


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
        render.emit_json(documents.state_change(change))
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
        render.emit_json(documents.workflows(rows))
        return
    at = parse_now(now)
    table = []
    for r in rows:
        nxt = documents.next_fire(r)
        done = r.get("schedule_status") == "completed" and r.get("schedule_reason")
        table.append((r["workflow_id"], documents.workflow_status(r) + (
            f" / {r['schedule_status']}" if r.get("schedule_status") else "") + (
            f" ({r['schedule_reason']})" if done else ""),
            trigger_label(r), r["current_version"], _when(nxt, at), r.get("published_from")))
    render.table(None, ["workflow", "status", "trigger", "version", "next fire", "from"], table)
    for r in rows:
        if r.get("paused") and r.get("pause_note"):
            render.text(f"{r['workflow_id']} paused: {r['pause_note']}")


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
    merged = documents.merged_row(detail)
    doc = documents.workflow_detail(detail)
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
    if wf.get("published_from"):
        render.text(f"published from: {wf['published_from']}")
    if sched is not None:
        nxt = documents.local(sched["next_fire_at"], sched["timezone"])
        at = datetime.now(UTC)
        render.text(f"schedule: {sched['status']}"
                    + (f", next fire {iso(nxt)} ({humanize_delta(nxt - at)})" if nxt else "")
                    + (f", last fired {sched['last_fire_key']}" if sched["last_fire_key"] else "")
                    + (f" ({sched['status_reason']})" if sched.get("status_reason") else ""))
    render.table("versions", ["version", "published at", "file", "from"],
                 [(v["version"], iso_utc(v["published_at"]), v.get("source_path") or "",
                   v.get("published_from") or "") for v in detail.versions])
    render.text(f"definition (version {detail.version['version']}):")
    render.text(detail.version["source"].rstrip())
