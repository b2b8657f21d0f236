"""Publish, pause, resume, delete: definition, version and schedule state change together.

Each operation is one store transaction (docs/design.md §4.3, §4.4). Publishing several files is all or
nothing: every file is validated before the transaction starts, and any failure inside it rolls
the whole transaction back, so the store is left exactly as it was.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clockwf.errors import DefinitionInvalid, Diagnostic, InvalidInput, NotFound, Refused
from clockwf.models import Definition, EventTrigger
from clockwf.notify import outbox as notify_outbox
from clockwf.schedule import (
    Occurrence,
    ScheduleSpec,
    first_after,
    following,
    occurrence_at,
    occurrences_between,
)
from clockwf.store.base import NewSkip, Row, Store
from clockwf.store.manager import Tx
from clockwf.validate import FileReport

log = logging.getLogger("clockwf.lifecycle")

PAUSED_SKIP_LIMIT = 100_000


@dataclass(frozen=True)
class Published:
    workflow_id: str
    version: int
    status: str               # published | unchanged
    trigger_type: str
    next_fire_at: datetime | None
    timezone: str | None
    path: str

    def as_json(self) -> dict[str, Any]:
        from clockwf.timeutil import iso

        return {"workflow_id": self.workflow_id, "version": self.version,
                "status": self.status, "trigger_type": self.trigger_type,
                "next_fire_at": iso(_local(self.next_fire_at, self.timezone))}


def _local(when: datetime | None, zone: str | None) -> datetime | None:
    if when is None:
        return None
    from clockwf.timeutil import zone_or_offset

    return when.astimezone(zone_or_offset(zone or "UTC"))


def definition_json(definition: Definition) -> str:
    return json.dumps(definition.model_dump(mode="json", by_alias=True, exclude_none=True),
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def load_definition(row: Row) -> Definition:
    """The validated definition stored in a version row."""
    return Definition.model_validate(json.loads(row["definition"]))


def check_publishable(reports: Sequence[FileReport]) -> list[FileReport]:
    """Every file must be valid and every id unique among them; else nothing is published."""
    problems: list[Diagnostic] = []
    seen: dict[str, str] = {}
    for report in reports:
        # run_at in the past is decided inside the transaction: fine when unchanged.
        errors = [e for e in report.errors if e is not report.past_run_at]
        problems.extend(errors)
        if not errors and report.definition is not None:
            wid = report.definition.id
            if wid in seen:
                problems.append(Diagnostic(
                    f"workflow id {wid!r} is also defined in {seen[wid]}; one file per "
                    "workflow", None, None, "id", report.path))
            seen.setdefault(wid, report.path)
    if problems:
        raise DefinitionInvalid(problems, "nothing was published:\n" +
                                "\n".join(str(p) for p in problems))
    return list(reports)


def publish(store: Store, reports: Sequence[FileReport], now: datetime, *,
            source: str | None = None) -> list[Published]:
    """Store a new version of each definition (or report it unchanged) and its schedule, all in
    one transaction. ``reports`` come from ``validate_*(..., for_publish=True)``; ``source``
    names where they came from (recorded on each version)."""
    return publish_set(store, reports, now, source=source).published


PRUNE_MODES = ("pause", "delete")


@dataclass(frozen=True)
class Outcome:
    """What one publish did: the definitions given, with a prune the workflows removed, and the
    workflows that an earlier prune of the same source had paused and that came back."""

    published: list[Published]
    pruned: list[StateChange]
    resumed: list[StateChange]


def prune_note(source: str) -> str:
    """The pause note of a workflow paused by a prune of ``source``; a publish of the same
    source that brings the workflow back resumes it (a pause by hand stays)."""
    return f"pruned: no longer in {source}"


def publish_set(store: Store, reports: Sequence[FileReport], now: datetime, *,
                source: str | None = None, prune: str | None = None,
                confirm: bool = False) -> Outcome:
    """:func:`publish`, and with ``prune`` (``pause`` or ``delete``) the workflows that
    ``source`` published before and that are not in ``reports`` are paused or deleted, in the
    same transaction (their runs are kept). A prune that would remove more than half of the
    source's workflows is refused unless ``confirm``; then nothing is published either."""
    check_publishable(reports)
    if prune is not None:
        if prune not in PRUNE_MODES:
            raise InvalidInput(f"--prune must be pause or delete; got {prune!r}")
        if not source:
            raise InvalidInput("--prune needs a source: publish a directory, or name the set "
                               "with --source NAME")
    now = now.astimezone(UTC)
    out: list[Published] = []
    pruned: list[StateChange] = []
    resumed: list[StateChange] = []
    with store.transaction() as tx:
        owned = tx.workflows_from(source) if prune is not None and source else []
        for report in reports:
            assert report.definition is not None and report.content_hash is not None
            published, workflow = _publish_one(tx, report, now, source)
            out.append(published)
            if source and workflow is not None and workflow["paused"] \
                    and workflow.get("pause_note") == prune_note(source):
                resumed.append(_resume_in(tx, published.workflow_id, now))
        if prune is not None and source:
            keep = {p.workflow_id for p in out}
            gone = [r for r in owned if r["workflow_id"] not in keep
                    and (prune == "delete" or not r["paused"])]
            _check_prune_size(source, prune, gone, owned, confirm)
            note = prune_note(source)
            for row in gone:
                wid = row["workflow_id"]
                pruned.append(_delete_in(tx, wid, now) if prune == "delete"
                              else pause_in(tx, wid, now, note))
        tx.bump_changes()
    for item in out:
        log.info("%s %s version %d", item.status, item.workflow_id, item.version,
                 extra={"action": f"publish.{item.status}", "workflow_id": item.workflow_id,
                        "version": item.version})
    for change in pruned:
        log.info("pruned %s (%s)", change.workflow_id, change.status,
                 extra={"action": f"publish.pruned.{change.status}",
                        "workflow_id": change.workflow_id})
    for change in resumed:
        log.info("resumed %s (back in %s)", change.workflow_id, source,
                 extra={"action": "publish.resumed", "workflow_id": change.workflow_id,
                        "skipped": change.skipped})
    return Outcome(out, pruned, resumed)


def _check_prune_size(source: str, mode: str, gone: Sequence[Row], owned: Sequence[Row],
                      confirm: bool) -> None:
    if confirm or len(gone) * 2 <= len(owned):
        return
    verb = "delete" if mode == "delete" else "pause"
    names = ", ".join(r["workflow_id"] for r in gone[:10]) + (" ..." if len(gone) > 10 else "")
    raise Refused(f"nothing was published: the prune would {verb} {len(gone)} of the "
                  f"{len(owned)} workflows published from {source} ({names}), more than half; "
                  "check that the directory is complete, then add --yes to confirm")


def _publish_one(tx: Tx, report: FileReport, now: datetime, source: str | None
                 ) -> tuple[Published, Row | None]:
    """The new version (or unchanged), and the workflow row as it was before."""
    definition = report.definition
    assert definition is not None and report.content_hash is not None
    wid = definition.id
    tx.lock_workflow(wid)
    workflow = tx.get_workflow(wid)
    spec = ScheduleSpec.from_definition(definition)
    zone = spec.timezone if spec is not None else None
    if workflow is not None:
        current = tx.get_version(wid, int(workflow["current_version"]))
        if source is None:  # not stated: the workflow keeps the source it has
            source = workflow.get("published_from")
        if current is not None and current["content_hash"] == report.content_hash \
                and source == current.get("published_from"):
            schedule = tx.get_schedule(wid)
            return Published(wid, int(workflow["current_version"]), "unchanged",
                             definition.trigger_type,
                             schedule["next_fire_at"] if schedule else None, zone,
                             report.path), workflow
    if report.past_run_at is not None:
        raise DefinitionInvalid([report.past_run_at],
                                f"nothing was published:\n{report.past_run_at}")
    version = _insert_version(tx, report, definition, now, source)
    paused = bool(workflow and workflow["paused"])
    next_fire = _place_schedule(tx, spec, wid, version, paused, now, report.path)
    return Published(wid, version, "published", definition.trigger_type, next_fire, zone,
                     report.path), workflow


def _insert_version(tx: Tx, report: FileReport, definition: Definition, now: datetime,
                    source: str | None) -> int:
    """``definition`` stored as the workflow's next version and made its current one (the
    workflow row is created on its first publish); the new version's number."""
    assert report.content_hash is not None
    wid = definition.id
    version = (tx.max_version(wid) or 0) + 1
    tx.insert_version(workflow_id=wid, version=version, content_hash=report.content_hash,
                      definition=definition_json(definition), source=report.source or "",
                      source_path=report.path, published_at=now, published_from=source)
    event = definition.trigger.event if isinstance(definition.trigger, EventTrigger) else None
    tx.upsert_workflow(workflow_id=wid, name=definition.name, current_version=version,
                       trigger_type=definition.trigger_type, event_name=event, now=now,
                       published_from=source)
    notify_outbox.on_publish(tx, definition, now)
    return version


def _place_schedule(tx: Tx, spec: ScheduleSpec | None, wid: str, version: int, paused: bool,
                    now: datetime, path: str) -> datetime | None:
    """The schedule of a newly published ``version``: dropped without a time trigger, kept at
    its position when its instants are the same, else started anew; its next fire."""
    old = tx.get_schedule(wid, for_update=True)
    if spec is None:
        if old is not None:
            tx.delete_schedule(wid)
        return None
    if old is not None and ScheduleSpec.from_row(old).same_trigger(spec):
        # Same instants: keep the schedule's position, take the new policy and version.
        row = dict(old)
        row.update(spec.row_fields())
        row.update(version=version, updated_at=now)
        tx.upsert_schedule(row)
        next_fire: datetime | None = old["next_fire_at"]
        return next_fire
    return _start_schedule(tx, spec, old, wid, version, paused, now, path)


def _start_schedule(tx: Tx, spec: ScheduleSpec, old: Row | None, wid: str, version: int,
                    paused: bool, now: datetime, path: str) -> datetime | None:
    """A schedule starting at the first occurrence after ``now``, keeping ``old``'s last fire
    and creation time; completed at once when there is none, or when ``old`` has launched
    max_runs already. Its next fire."""
    first = first_after(spec, now)
    if first is None and spec.trigger_type == "schedule":
        raise InvalidInput(f"{path}: {wid} has no occurrence after {now.isoformat()}"
                           " (run_at must lie in the future)")
    status, reason = "paused" if paused else "scheduled", None
    launched = int(old.get("launched") or 0) if old else 0
    if spec.max_runs is not None and launched >= spec.max_runs:
        first, reason = None, f"completed: max_runs {spec.max_runs} reached"
    elif first is None:   # end_at passed, or the rule has ended
        reason = spec.completion_reason()
    if first is None:
        status = "completed"
    row = spec.row_fields()
    row.update(
        version=version,
        status=status,
        status_reason=reason,
        next_nominal_at=first.nominal if first else None,
        next_kind=first.kind if first else None,
        next_fire_at=first.due if first else None,
        last_fire_key=old["last_fire_key"] if old else None,
        last_fired_at=old["last_fired_at"] if old else None,
        paused_at=now if paused else None,
        created_at=old["created_at"] if old else now,
        updated_at=now,
    )
    tx.upsert_schedule(row)
    return first.due if first else None


@dataclass(frozen=True)
class StateChange:
    workflow_id: str
    status: str               # paused | resumed | already paused | not paused | deleted
    next_fire_at: datetime | None = None
    skipped: int = 0
    detail: str | None = None


def pause(store: Store, workflow_id: str, now: datetime, note: str | None = None) -> StateChange:
    """Stop the workflow's trigger (time and event); manual runs still start."""
    now = now.astimezone(UTC)
    with store.transaction() as tx:
        change = pause_in(tx, workflow_id, now, note)
        if change.status != "paused":
            return change
    log.info("paused %s", workflow_id, extra={"action": "workflow.paused",
                                              "workflow_id": workflow_id})
    return change


def pause_in(tx: Tx, workflow_id: str, now: datetime, note: str | None) -> StateChange:
    """Pause the workflow inside ``tx`` unless it is paused already (also the prune of a
    directory publish, and the automatic pause of ``expect.pause_after_failures``, whose reason
    is the note)."""
    workflow = _require(tx, workflow_id)
    if workflow["paused"]:
        return StateChange(workflow_id, "already paused")
    tx.set_workflow_paused(workflow_id, paused=True, note=note, now=now)
    schedule = tx.get_schedule(workflow_id, for_update=True)
    if schedule is not None and schedule["status"] == "scheduled":
        tx.set_schedule_state(workflow_id, status="paused", status_reason=note,
                              next_nominal_at=schedule["next_nominal_at"],
                              next_kind=schedule["next_kind"],
                              next_fire_at=schedule["next_fire_at"], paused_at=now, now=now)
    tx.bump_changes()
    return StateChange(workflow_id, "paused")


def resume(store: Store, workflow_id: str, now: datetime) -> StateChange:
    """Re-enable the trigger from ``now``: occurrences during the pause are not caught up; they
    are recorded as skipped (reason ``paused``)."""
    now = now.astimezone(UTC)
    with store.transaction() as tx:
        change = _resume_in(tx, workflow_id, now)
        if change.status != "resumed":
            return change
        tx.bump_changes()
    log.info("resumed %s", workflow_id, extra={"action": "workflow.resumed",
                                               "workflow_id": workflow_id,
                                               "skipped": change.skipped})
    return change


def _resume_in(tx: Tx, workflow_id: str, now: datetime) -> StateChange:
    workflow = _require(tx, workflow_id)
    if not workflow["paused"]:
        return StateChange(workflow_id, "not paused")
    tx.set_workflow_paused(workflow_id, paused=False, note=None, now=now)
    notify_outbox.on_resume(tx, workflow_id, now)
    schedule = tx.get_schedule(workflow_id, for_update=True)
    skipped = 0
    next_fire = None
    if schedule is not None and schedule["status"] == "paused":
        spec = ScheduleSpec.from_row(schedule)
        skipped = _record_paused(tx, spec, schedule, now)
        first = first_after(spec, now)
        if first is None:
            reason = "paused when its run_at came" if spec.trigger_type == "schedule" \
                else spec.completion_reason()
            tx.set_schedule_state(workflow_id, status="missed" if spec.trigger_type ==
                                  "schedule" else "completed", status_reason=reason,
                                  next_nominal_at=None, next_kind=None, next_fire_at=None,
                                  paused_at=None, now=now)
        else:
            tx.set_schedule_state(workflow_id, status="scheduled", status_reason=None,
                                  next_nominal_at=first.nominal, next_kind=first.kind,
                                  next_fire_at=first.due, paused_at=None, now=now)
            next_fire = first.due
    return StateChange(workflow_id, "resumed", next_fire, skipped)


def _record_paused(tx: Tx, spec: ScheduleSpec, schedule: Row, now: datetime) -> int:
    start = schedule["next_nominal_at"]
    if start is None or start > now:
        return 0
    # Every occurrence up to now by its nominal instant (jitter aside), as first_after(now)
    # starts the schedule again strictly after now: none falls between the two.
    if spec.special:
        # Bounds or a calendar: in running order (a moved occurrence runs off its nominal
        # instant), up to the first that runs after now, where first_after(now) resumes.
        occs: list[Occurrence] = []
        occ = occurrence_at(spec, start, schedule.get("next_kind"))
        while occ is not None and occ.local <= now and len(occs) < PAUSED_SKIP_LIMIT:
            if occ.fires:
                occs.append(occ)
            occ = following(spec, occ)
    else:
        occs = occurrences_between(spec, start, now, limit=PAUSED_SKIP_LIMIT)
    if not occs:
        return 0
    paused_at = schedule.get("paused_at")
    detail = "the workflow was paused" + (f" at {paused_at.isoformat()}" if paused_at else "")
    if len(occs) >= PAUSED_SKIP_LIMIT:
        detail += f" (at least {len(occs)} occurrences; not all counted)"
    tx.insert_skips([NewSkip(workflow_id=spec.workflow_id, fire_key=occs[0].fire_key,
                             scheduled_for=occs[0].nominal, scheduled_until=occs[-1].nominal,
                             occurrences=len(occs), reason="paused", detail=detail,
                             recorded_at=now)])
    return len(occs)


def delete(store: Store, workflow_id: str, now: datetime) -> StateChange:
    """Remove the definition and its schedule; its runs (and versions) are kept, and its queued
    runs are cancelled."""
    now = now.astimezone(UTC)
    with store.transaction() as tx:
        change = _delete_in(tx, workflow_id, now)
        tx.bump_changes()
    log.info("deleted %s", workflow_id, extra={"action": "workflow.deleted",
                                               "workflow_id": workflow_id})
    return change


def _delete_in(tx: Tx, workflow_id: str, now: datetime) -> StateChange:
    _require(tx, workflow_id)
    queued = [r["run_id"] for r in tx.active_runs([workflow_id]) if r["status"] == "queued"]
    if queued:
        tx.request_cancel(queued, reason="the workflow was deleted", now=now)
    tx.delete_workflow(workflow_id)
    return StateChange(workflow_id, "deleted", detail=f"{len(queued)} queued run(s) cancelled"
                       if queued else None)


def _require(tx: Tx, workflow_id: str) -> Row:
    workflow = tx.get_workflow(workflow_id)
    if workflow is None:
        raise NotFound(f"no workflow {workflow_id!r} in namespace {tx.ns!r}")
    return workflow


# -- reading ------------------------------------------------------------------------------------

LIST_TRIGGERS = ("manual", "event", "schedule", "recurring", "scheduled")
LIST_STATUSES = ("published", "paused", "scheduled", "completed", "missed")


def _list_filters(trigger: str | None, status: str | None) -> tuple[list[str] | None,
                                                                    str | None]:
    """The store's filters for ``--trigger`` and ``--status``."""
    if trigger is not None and trigger not in LIST_TRIGGERS:
        raise InvalidInput(f"--trigger must be one of {', '.join(LIST_TRIGGERS)}; got {trigger!r}")
    if status is not None and status not in LIST_STATUSES:
        raise InvalidInput(f"--status must be one of {', '.join(LIST_STATUSES)}; got {status!r}")
    types = None
    if trigger == "scheduled":
        types = ["schedule", "recurring"]
    elif trigger is not None:
        types = [trigger]
    # "published" is the listing's word for a workflow that is not paused.
    return types, "active" if status == "published" else status


def list_workflows(store: Store, *, trigger: str | None = None,
                   status: str | None = None) -> list[Row]:
    types, state = _list_filters(trigger, status)
    with store.read() as tx:
        return tx.list_workflows(trigger_types=types, status=state)


def page_workflows(store: Store, *, trigger: str | None = None, status: str | None = None,
                   search: str | None = None, limit: int = 50,
                   offset: int = 0) -> tuple[list[Row], int]:
    """One page of :func:`list_workflows`, ``search`` matching part of the id or name; and how
    many workflows match in all."""
    types, state = _list_filters(trigger, status)
    with store.read() as tx:
        return tx.page_workflows(trigger_types=types, status=state, search=search,
                                 limit=limit, offset=offset)


@dataclass
class WorkflowDetail:
    workflow: Row
    schedule: Row | None
    versions: list[Row]
    version: Row
    definition: Definition


def show(store: Store, workflow_id: str, version: int | None = None) -> WorkflowDetail:
    with store.read() as tx:
        workflow = _require(tx, workflow_id)
        wanted = version if version is not None else int(workflow["current_version"])
        row = tx.get_version(workflow_id, wanted)
        if row is None:
            raise NotFound(f"{workflow_id} has no version {wanted}")
        return WorkflowDetail(workflow, tx.get_schedule(workflow_id),
                              tx.list_versions(workflow_id), row, load_definition(row))


def current_definition(tx: Tx, workflow_id: str) -> tuple[Row, int, Definition]:
    """The workflow row, its current version number and definition (for manual runs etc.)."""
    workflow = _require(tx, workflow_id)
    version = int(workflow["current_version"])
    row = tx.get_version(workflow_id, version)
    if row is None:  # pragma: no cover - the store keeps every version
        raise NotFound(f"{workflow_id} version {version} is missing from the store")
    return workflow, version, load_definition(row)
