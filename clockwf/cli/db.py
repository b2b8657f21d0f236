"""``clockwf db status`` and ``clockwf db upgrade``: the store's schema migrations."""

from __future__ import annotations

from typing import Any

import typer

from clockwf import render
from clockwf.cli.app import DbOpt, FormatOpt, NamespaceOpt, OutputFormat, app
from clockwf.store import open_store
from clockwf.store.base import MigrationStatus, Store
from clockwf.timeutil import iso

db_app = typer.Typer(
    help="Inspect and upgrade the store's schema (versioned migrations recorded in the store).",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")


def _status_document(store: Store, status: MigrationStatus) -> dict[str, Any]:
    return {
        "backend": store.backend,
        "url": store.url,
        "current": status.current,
        "latest": status.latest,
        "applied": [{"version": v, "name": n, "applied_at": iso(at)}
                    for v, n, at in status.applied],
        "pending": [{"version": v, "name": n} for v, n in status.pending],
    }


@db_app.command("status")
def status(db: DbOpt = None, namespace: NamespaceOpt = "default",
           fmt: FormatOpt = OutputFormat.human) -> None:
    """Show the schema version of the store and the migrations still to apply."""
    with open_store(db, namespace, create=False, check_schema=False) as store:
        doc = _status_document(store, store.migration_status())
    if fmt is OutputFormat.json:
        render.emit_json(doc)
        return
    rows = [(m["version"], m["name"], "applied", m["applied_at"]) for m in doc["applied"]]
    rows += [(m["version"], m["name"], "pending", "") for m in doc["pending"]]
    render.table(f"{doc['backend']} store {doc['url']}", ["version", "name", "state", "applied at"],
                 rows)
    if doc["current"] > doc["latest"]:
        render.warning(f"the store is at version {doc['current']}, newer than this clockwf "
                       f"({doc['latest']}): upgrade clockwf")
    elif doc["pending"]:
        render.text(f"schema version {doc['current']} of {doc['latest']}: "
                    "run `clockwf db upgrade` to apply the pending migrations")
    else:
        render.text(f"schema version {doc['current']}: up to date")


@db_app.command("upgrade")
def upgrade(db: DbOpt = None, namespace: NamespaceOpt = "default",
            fmt: FormatOpt = OutputFormat.human) -> None:
    """Apply the pending migrations, each in one transaction (a new store is created)."""
    with open_store(db, namespace, check_schema=False) as store:
        applied = store.upgrade()
        status = store.migration_status()
    if fmt is OutputFormat.json:
        render.emit_json({"applied": [{"version": v, "name": n} for v, n in applied],
                          "current": status.current, "latest": status.latest})
        return
    for version, name in applied:
        render.text(f"applied migration {version} {name}")
    render.text(f"schema version {status.current}: up to date" if applied or not status.pending
                else f"schema version {status.current}")
