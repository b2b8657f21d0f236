"""``clockwf runs [ID]``, ``runs show RUN_ID``, ``runs cancel RUN_ID``: run history."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from clockwf import documents, render, runs
from clockwf.cli.app import DbOpt, FormatOpt, NamespaceOpt, NowOpt, OutputFormat, app
from clockwf.clock import parse_now
from clockwf.errors import InvalidInput, NotFound
from clockwf.store import open_store
from clockwf.timeutil import parse_instant


class _ListByDefault(TyperGroup):
    """``clockwf runs [ID] [options]`` lists; ``show`` and ``cancel`` are subcommands."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["list", *args]
        return super().parse_args(ctx, args)


runs_app = typer.Typer(cls=_ListByDefault, help="Run history, one run in detail, cancelling.")
app.add_typer(runs_app, name="runs")


@runs_app.command("list")
def list_runs(
    workflow_id: Annotated[str | None, typer.Argument(metavar="[ID]",
                                                      help="Only this workflow.")] = None,
    trigger: Annotated[str | None, typer.Option(
        "--trigger", help="manual, event, schedule or recurring.")] = None,
    status: Annotated[str | None, typer.Option(
        "--status", help="queued, running, succeeded, failed, timed_out, cancelled or "
        "interrupted.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Created at or after (ISO "
                                                              "8601; naive: UTC).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100_000,
                                       help="At most this many runs.")] = 50,
    db: DbOpt = None, namespace: NamespaceOpt = "default",
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Runs, newest first, with why each started."""
    when = None
    if since is not None:
        try:
            when = parse_instant(since, what="--since")
        except InvalidInput as exc:
            raise typer.BadParameter(exc.message, param_hint="--since") from None
    with open_store(db, namespace) as store:
        rows = runs.list_runs(store, workflow_id=workflow_id, trigger=trigger, status=status,
                              since=when, limit=limit)
    if fmt is OutputFormat.json:
        render.emit_json(documents.runs(rows))
        return
    render.table(None, ["run", "workflow", "v", "status", "scheduled for", "created",
                        "provenance"],
                 [(r["run_id"], r["workflow_id"], r["workflow_version"], r["status"],
                   runs.run_json(r)["scheduled_for"] or "",
                   f"{r['created_at']:%Y-%m-%d %H:%M:%S}Z", runs.provenance_label(r))
                  for r in rows])


@runs_app.command("show")
def show_run(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="A run id, or last.")],
    db: DbOpt = None, namespace: NamespaceOpt = "default",
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """One run: provenance, payload, each step's attempts, status, exit code or HTTP status,
    duration and output tail."""
    if run_id != "last" and not run_id.isdigit():
        raise typer.BadParameter(f"{run_id!r} is not a run id (a number) or last",
                                 param_hint="RUN_ID")
    with open_store(db, namespace) as store:
        if run_id == "last":
            latest = runs.list_runs(store, limit=1)
            if not latest:
                raise NotFound(f"no run in namespace {namespace!r} yet")
            run_id = str(latest[0]["run_id"])
        run, steps = runs.get_run(store, int(run_id))
    doc = documents.run_detail(run, steps)
    if fmt is OutputFormat.json:
        render.emit_json(doc)
        return
    render.text(f"run {run['run_id']} of {run['workflow_id']} (version "
                f"{run['workflow_version']}): {run['status']}")
    render.text(f"started by: {doc['provenance']}  [{run['fire_key']}]")
    if doc["scheduled_for"]:
        render.text(f"scheduled for: {doc['scheduled_for']}")
    render.text(f"created {doc['created_at']}, started {doc['started_at'] or '-'}, finished "
                f"{doc['finished_at'] or '-'}")
    if run.get("error"):
        render.text(f"error: {run['error']}")
    render.text("payload: " + json.dumps(doc["payload"], ensure_ascii=False))
    for step in steps:
        code = (f"exit {step['exit_code']}" if step["exit_code"] is not None else
                f"HTTP {step['http_status']}" if step["http_status"] is not None else "")
        render.text(f"\n-- step {step['step_index'] + 1} {step['step_id']} ({step['kind']}), "
                    f"attempt {step['attempt']}: {step['status']} {code} "
                    f"{step['duration_ms'] if step['duration_ms'] is not None else '-'} ms")
        if step.get("error"):
            render.text(f"   error: {step['error']}")
        if step.get("output"):
            render.text(step["output"].rstrip("\n"))


@runs_app.command("cancel")
def cancel_run(
    run_ids: Annotated[list[int], typer.Argument(metavar="RUN_ID...")],
    db: DbOpt = None, namespace: NamespaceOpt = "default", now: NowOpt = None,
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Cancel queued or running runs (a running one's process group is killed)."""
    with open_store(db, namespace) as store:
        rows = runs.cancel_runs(store, run_ids, parse_now(now))
    if fmt is OutputFormat.json:
        render.emit_json(documents.cancelled(rows))
        return
    for r in rows:
        render.text(f"run {r['run_id']}: " + ("cancelled" if r["status"] == "queued" else
                                              "cancel requested (its steps are being stopped)"))
