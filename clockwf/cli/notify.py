"""``notifications``, ``notify test``, ``notify publish``, ``notify show`` and ``metrics``."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from clockwf import documents, render
from clockwf.cli.app import DbOpt, FormatOpt, NamespaceOpt, NowOpt, OutputFormat, app
from clockwf.clock import parse_now
from clockwf.errors import InvalidInput, NotFound
from clockwf.store import open_store
from clockwf.timeutil import iso_utc

notify_app = typer.Typer(help="Notification targets: namespace defaults and test sends.",
                         no_args_is_help=True)
app.add_typer(notify_app, name="notify")


@app.command()
def notifications(
    notification_id: Annotated[str | None, typer.Argument(
        metavar="[ID]", help="One notification: its body and each delivery.")] = None,
    workflow: Annotated[str | None, typer.Option(
        "--workflow", help="Only this workflow's notifications.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000,
                                       help="At most this many, newest first.")] = 50,
    db: DbOpt = None, namespace: NamespaceOpt = "default",
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """List notifications with their delivery status, or show one."""
    from clockwf.notify.outbox import get_notification, list_notifications

    with open_store(db, namespace) as store:
        if notification_id is not None:
            row, deliveries = get_notification(store, notification_id)
        else:
            rows = list_notifications(store, workflow_id=workflow, limit=limit)
    if notification_id is not None:
        doc = documents.notification_detail(row, deliveries)
        if fmt is OutputFormat.json:
            render.emit_json(doc)
            return
        body = doc["notification"]
        render.text(f"{body['id']} {body['event']} {body.get('workflow_id') or ''} "
                    f"at {body['occurred_at']}")
        render.text(body["summary"])
        render.table("deliveries", ["target", "status", "attempts", "finished", "error"],
                     [(d["target"], d["status"], d["attempts"], d["finished_at"] or "",
                       d["last_error"] or "") for d in doc["deliveries"]])
        return
    listed = documents.notifications(rows)
    if fmt is OutputFormat.json:
        render.emit_json(listed)
        return
    render.table(None, ["id", "event", "workflow", "run", "created", "delivery"],
                 [(i["id"], i["event"], i["workflow_id"] or "", i["run_id"] or "",
                   i["created_at"], f"{i['status']} ({i['delivered']}/{i['targets']})")
                  for i in listed["notifications"]])


@notify_app.command("test")
def test(
    workflow_id: Annotated[str, typer.Argument(metavar="ID")],
    db: DbOpt = None, namespace: NamespaceOpt = "default", now: NowOpt = None,
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Send a test notification to the workflow's targets now (exit 1 if one fails)."""
    from clockwf.notify.deliver import Settings, deliver_due
    from clockwf.notify.outbox import Targets, enqueue, q_one

    at = parse_now(now)
    with open_store(db, namespace) as store:
        with store.transaction() as tx:
            if tx.get_workflow(workflow_id) is None:
                raise NotFound(f"no workflow {workflow_id!r} in namespace {namespace!r}")
            notify = Targets(tx).effective(q_one(tx, "alerts_get_health",
                                                 workflow_id=workflow_id))
            if notify is None:
                raise InvalidInput(f"{workflow_id} has no notify targets, and namespace "
                                   f"{namespace!r} has no defaults (clockwf notify publish)")
            nid = enqueue(tx, notify, key=f"test:{workflow_id}:{iso_utc(at)}", event="test",
                          workflow_id=workflow_id, now=at, force=True,
                          summary=f"{workflow_id}: a test notification from clockwf")
        if nid is None:
            raise InvalidInput("a test notification was already sent at this --now")
        outcomes = deliver_due(store, f"cli-test:{nid}", lambda: at, only_id=nid,
                               settings=Settings(attempts=1), limit=1000)
    doc: dict[str, Any] = {"id": nid, "deliveries": [{"target": o.target_label, "ok": o.status == "delivered",
                                      "detail": o.detail} for o in outcomes]}
    if fmt is OutputFormat.json:
        render.emit_json(doc)
    else:
        render.table(f"test notification {nid}", ["target", "result", "detail"],
                     [(d["target"], "ok" if d["ok"] else "FAILED", d["detail"])
                      for d in doc["deliveries"]])
    if not all(d["ok"] for d in doc["deliveries"]):
        raise typer.Exit(1)


@notify_app.command("publish")
def publish(
    file: Annotated[str, typer.Argument(metavar="FILE", help="A YAML file with one notify: "
                                                             "block.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate only.")] = False,
    db: DbOpt = None, namespace: NamespaceOpt = "default", now: NowOpt = None,
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Publish the namespace's default notify targets (for workflows without notify.to)."""
    from clockwf import yamlload
    from clockwf.notify.defaults import load_defaults, publish_defaults

    try:
        data = yamlload.read_file(file)
    except OSError as exc:
        raise InvalidInput(f"{file}: cannot be read: {exc.strerror or exc}") from None
    defaults = load_defaults(data, file)
    status = "valid"
    if not dry_run:
        with open_store(db, namespace) as store:
            status = publish_defaults(store, defaults, file, parse_now(now))
    if fmt is OutputFormat.json:
        render.emit_json({"path": file, "status": status,
                          "targets": len(defaults.notify.to)})
    else:
        render.text(f"{file}: {status} ({len(defaults.notify.to)} target(s))")


@notify_app.command("show")
def show(db: DbOpt = None, namespace: NamespaceOpt = "default",
         fmt: FormatOpt = OutputFormat.human) -> None:
    """Show the namespace's default notify targets."""
    from clockwf.notify.defaults import current_defaults

    with open_store(db, namespace) as store:
        notify = current_defaults(store)
    doc = None if notify is None else notify.model_dump(mode="json", exclude_none=True)
    if fmt is OutputFormat.json:
        render.emit_json({"namespace": namespace, "defaults": doc})
    elif doc is None:
        render.text(f"namespace {namespace!r} has no notify defaults")
    else:
        render.text(json.dumps(doc, indent=2))


@app.command()
def metrics(db: DbOpt = None, namespace: NamespaceOpt = "default", now: NowOpt = None) -> None:
    """Print the Prometheus metrics once (for node_exporter's textfile collector)."""
    from clockwf.notify.metrics import exposition

    with open_store(db, namespace) as store:
        sys.stdout.write(exposition(store, parse_now(now)).decode())
