"""``clockwf diff``: what a publish of the same files would do, computed without doing it.

Each workflow is ``new``, ``changed`` (with a unified diff of its definition file against the
version in the store, and its next fires before and after when the trigger changes),
``unchanged``, or, with a prune, ``removed``. The rules are the publish's own
(:mod:`clockwf.lifecycle`): the same validation, the same content hash, the same source rule and
the same prune selection, read in one read transaction.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from clockwf.errors import DefinitionInvalid
from clockwf.lifecycle import PRUNE_MODES, check_publishable, load_definition, prune_note
from clockwf.models import Definition
from clockwf.schedule import ScheduleSpec, first_after, following
from clockwf.store.base import Store
from clockwf.store.manager import Tx
from clockwf.timeutil import iso
from clockwf.validate import FileReport

FIRES_SHOWN = 3


@dataclass
class Change:
    workflow_id: str
    status: str                       # new | changed | unchanged | removed
    path: str | None = None
    version: int | None = None        # the version in the store
    diff: str = ""
    fires_before: list[str] | None = None   # set when the trigger changes
    fires_after: list[str] | None = None
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"workflow_id": self.workflow_id, "status": self.status, "path": self.path,
                "version": self.version, "diff": self.diff or None,
                "fires_before": self.fires_before, "fires_after": self.fires_after,
                "notes": self.notes}


@dataclass
class Plan:
    changes: list[Change]
    refused: str | None = None        # why the publish would be refused (prune size)

    @property
    def changed(self) -> bool:
        return any(c.status != "unchanged" for c in self.changes)


def next_fires(definition: Definition | None, now: datetime,
               count: int = FIRES_SHOWN) -> list[str]:
    """The next ``count`` fires of a definition in its local time (none for manual/event)."""
    spec = None if definition is None else ScheduleSpec.from_definition(definition)
    if spec is None:
        return []
    out: list[str] = []
    occ = first_after(spec, now)
    guard = 0
    while occ is not None and len(out) < count and guard < count * 10:
        if occ.fires:
            out.append(iso(occ.local) or "")
        occ = following(spec, occ)
        guard += 1
    return out


def _same_trigger(old: Definition, new: Definition) -> bool:
    a, b = ScheduleSpec.from_definition(old), ScheduleSpec.from_definition(new)
    if a is None or b is None:
        return a is None and b is None and old.trigger == new.trigger
    return a.same_trigger(b)


def _unified(old: str, new: str, old_name: str, new_name: str) -> str:
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 old_name, new_name)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def plan(store: Store, reports: Sequence[FileReport], now: datetime, *,
         source: str | None = None, prune: str | None = None) -> Plan:
    """What ``publish_set(store, reports, now, source=source, prune=prune)`` would do."""
    try:
        check_publishable(reports)
    except DefinitionInvalid as exc:
        raise DefinitionInvalid(exc.diagnostics, "publish would refuse these files:\n" + "\n".join(
            str(d) for d in exc.diagnostics)) from None
    now = now.astimezone(UTC)
    refused = None
    with store.read() as tx:
        changes = [_change(tx, report, now, source) for report in reports]
        if prune is not None and source:
            removed, refused = _pruned(tx, {c.workflow_id for c in changes}, source, prune)
            changes += removed
    return Plan(changes, refused)


def _change(tx: Tx, report: FileReport, now: datetime, source: str | None) -> Change:
    """What publishing ``report`` would do to its workflow (new, changed or unchanged)."""
    new = report.definition
    assert new is not None
    wid = new.id
    workflow = tx.get_workflow(wid)
    if workflow is None:
        return Change(wid, "new", report.path, fires_after=next_fires(new, now) or None)
    version = int(workflow["current_version"])
    row = tx.get_version(wid, version)
    assert row is not None
    stated = source if source is not None else workflow.get("published_from")
    change = Change(wid, "unchanged", report.path, version)
    comes_back = bool(source and workflow.get("paused")
                      and workflow.get("pause_note") == prune_note(source))
    if comes_back:
        change.status = "changed"
        change.notes.append("paused by an earlier prune of this source: publish resumes it")
    if row["content_hash"] == report.content_hash and stated == row.get("published_from"):
        return change
    change.status = "changed"
    if stated != row.get("published_from"):
        change.notes.append(f"source: {row.get('published_from') or '(none)'} -> {stated}")
    change.diff = _unified(row["source"], report.source or "",
                           f"{wid} (version {version} in the store)", report.path)
    old = load_definition(row)
    if not _same_trigger(old, new):
        change.fires_before = next_fires(old, now)
        change.fires_after = next_fires(new, now)
    if workflow.get("paused") and not comes_back:
        change.notes.append("paused: stays paused (clockwf resume)")
    return change


def _pruned(tx: Tx, keep: set[str], source: str, prune: str) -> tuple[list[Change], str | None]:
    """The workflows the prune would pause or delete (those ``source`` published that are not
    in ``keep``), and why publish would refuse it (more than half of them) or None."""
    if prune not in PRUNE_MODES:
        raise ValueError(prune)
    owned = tx.workflows_from(source)
    gone = [r for r in owned if r["workflow_id"] not in keep
            and (prune == "delete" or not r["paused"])]
    note = "would be deleted (its runs are kept)" if prune == "delete" else "would be paused"
    removed = [Change(r["workflow_id"], "removed", notes=[note]) for r in gone]
    if len(gone) * 2 <= len(owned):
        return removed, None
    return removed, (f"the prune would remove {len(gone)} of the {len(owned)} workflows "
                     f"published from {source}, more than half: publish refuses it "
                     "without --yes")
