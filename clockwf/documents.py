"""The JSON documents of clockwf's answers, built once for both of their readers.

``clockwf ... --format json`` prints these and ``clockwf serve``'s API (``/api/v1``) returns
them: each document has exactly one builder here, so the two can never drift apart. Builders
take what the library returned (rows, reports) and return plain JSON-ready values; reading the
store is the caller's business, through :mod:`clockwf.lifecycle` and :mod:`clockwf.runs`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from clockwf.errors import InvalidInput
from clockwf.launcher import run_payload
from clockwf.store.base import Row
from clockwf.timeutil import iso, iso_utc, zone_or_offset

if TYPE_CHECKING:
    from clockwf.lifecycle import Outcome, Published, StateChange, WorkflowDetail
    from clockwf.models import Definition
    from clockwf.runs import Started

Doc = dict[str, Any]


def local(when: datetime | None, zone: str | None) -> datetime | None:
    return None if when is None else when.astimezone(zone_or_offset(zone or "UTC"))


def workflow_status(row: Row) -> str:
    return "paused" if row.get("paused") else "published"


def next_fire(row: Row) -> datetime | None:
    """When it will fire next: nothing while paused (the schedule keeps its place, but a
    resume starts again from then)."""
    if row.get("paused") or row.get("schedule_status") != "scheduled":
        return None
    return local(row.get("next_fire_at"), row.get("timezone"))


def workflow_row(row: Row) -> Doc:
    """One workflow of ``clockwf list`` (a row of ``list_workflows``)."""
    return {
        "workflow_id": row["workflow_id"],
        "status": workflow_status(row),
        "trigger_type": row["trigger_type"],
        "version": row["current_version"],
        "next_fire_at": iso(next_fire(row)),
        "schedule_status": row.get("schedule_status"),
        "published_from": row.get("published_from"),
        "paused_note": row.get("pause_note"),
    }


def workflows(rows: Iterable[Row]) -> Doc:
    """``clockwf list --format json``."""
    return {"workflows": [workflow_row(r) for r in rows]}


def workflow_detail(detail: WorkflowDetail) -> Doc:
    """``clockwf show ID --format json``: the workflow, its schedule, versions, definition."""
    wf, sched = detail.workflow, detail.schedule
    doc = workflow_row(merged_row(detail))
    doc.update({
        "name": detail.definition.name,
        "description": detail.definition.description,
        "paused_note": wf.get("pause_note"),
        "shown_version": int(detail.version["version"]),
        "schedule": None if sched is None else {
            "status": sched["status"],
            "next_fire_at": iso(local(sched["next_fire_at"], sched["timezone"])),
            "last_fire_key": sched["last_fire_key"],
            "last_fired_at": iso_utc(sched["last_fired_at"]),
            "enabled": sched["status"] == "scheduled",
            "status_reason": sched.get("status_reason"),
        },
        "versions": [{"version": v["version"], "published_at": iso_utc(v["published_at"]),
                      "published_from": v.get("published_from")} for v in detail.versions],
        "definition": json.loads(detail.version["definition"]),
    })
    return doc


def merged_row(detail: WorkflowDetail) -> Row:
    """The workflow row with its schedule's columns, as ``list_workflows`` gives them."""
    merged = dict(detail.workflow)
    sched = detail.schedule
    if sched is not None:
        merged.update(next_fire_at=sched["next_fire_at"], timezone=sched["timezone"],
                      schedule_status=sched["status"], cron=sched["cron"],
                      trigger_spec=sched.get("trigger_spec"))
    return merged


def published(items: Sequence[Published]) -> Doc:
    """``clockwf publish --format json`` of files (and the API's publish)."""
    return {"published": [p.as_json() for p in items]}


def publish_outcome(source: str | None, outcome: Outcome) -> Doc:
    """``clockwf publish --format json``: what was published, pruned and resumed, and from
    which source."""
    return {"source": source, **published(outcome.published),
            "pruned": [{"workflow_id": c.workflow_id, "status": c.status, "detail": c.detail}
                       for c in outcome.pruned],
            "resumed": [{"workflow_id": c.workflow_id, "skipped": c.skipped}
                        for c in outcome.resumed]}


def state_change(change: StateChange) -> Doc:
    """``clockwf pause|resume|delete --format json``."""
    return {"workflow_id": change.workflow_id, "status": change.status,
            "next_fire_at": iso_utc(change.next_fire_at), "skipped": change.skipped,
            "detail": change.detail}


def runs(rows: Iterable[Row]) -> Doc:
    """``clockwf runs --format json``."""
    from clockwf.runs import run_json

    return {"runs": [run_json(r) for r in rows]}


def step_attempt(step: Row) -> Doc:
    return {
        "step_index": step["step_index"], "step_id": step["step_id"],
        "attempt": step["attempt"], "kind": step["kind"], "status": step["status"],
        "started_at": iso_utc(step["started_at"]), "finished_at": iso_utc(step["finished_at"]),
        "duration_ms": step["duration_ms"], "exit_code": step["exit_code"],
        "http_status": step["http_status"], "output": step["output"], "error": step["error"],
    }


def run_detail(run: Row, steps: Iterable[Row]) -> Doc:
    """``clockwf runs show RUN_ID --format json``: provenance, payload, every step attempt."""
    from clockwf.runs import provenance_label, run_json

    doc = run_json(run)
    doc.update(payload=json.loads(run_payload(run)), error=run.get("error"),
               provenance=provenance_label(run), lease_owner=run.get("lease_owner"),
               steps=[step_attempt(s) for s in steps])
    return doc


def cancelled(rows: Iterable[Row]) -> Doc:
    """``clockwf runs cancel --format json``: each run and the status it had."""
    return {"cancelled": [{"run_id": r["run_id"], "was": r["status"]} for r in rows]}


def started(item: Started, status: str | None = None) -> Doc:
    """``clockwf run ID --format json`` (``status``: with ``--wait``, how it ended)."""
    doc = item.as_json()
    if status is not None:
        doc["status"] = status
    return doc


def emitted(event: str, items: Iterable[Started]) -> Doc:
    """``clockwf emit EVENT --format json``."""
    return {"event": event, "runs": [s.as_json() for s in items]}


def definition_fires(definition: Definition, now_in: Callable[[tzinfo], datetime],
                     count: int) -> tuple[list[dict[str, str | None]], str, str | None]:
    """The next ``count`` fires of a definition's trigger (``clockwf next``'s ``fires``), a
    title, and a warning (a run_at in the past). ``now_in(zone)``: the instant to start from,
    a naive ``--now`` being read in the trigger's zone."""
    from clockwf.cron import CronSchedule
    from clockwf.models import EventTrigger, RecurringTrigger, ScheduleTrigger
    from clockwf.render import fire_rows, occurrence_rows
    from clockwf.schedule import Occurrence, ScheduleSpec, first_after, following
    from clockwf.timeutil import format_duration, get_zone

    trigger = definition.trigger
    if isinstance(trigger, RecurringTrigger):
        at = now_in(get_zone(trigger.timezone))
        what = {"cron": repr(trigger.cron), "rrule": repr(trigger.rrule),
                "every": f"every {format_duration(trigger.every or 0)}"}[trigger.kind]
        title = f"next fires of {definition.id} ({what} in {trigger.timezone})"
        if trigger.cron is not None and not (trigger.start_at or trigger.end_at or
                                             trigger.calendar or trigger.max_runs):
            schedule = CronSchedule(trigger.cron, trigger.timezone, gap=trigger.dst.gap,
                                    fold=trigger.dst.fold)
            return fire_rows(schedule.iter_fires(at, include_skipped=True), count), title, None
        spec = ScheduleSpec.from_definition(definition)
        assert spec is not None

        def occurrences() -> Iterator[Occurrence]:
            occ = first_after(spec, at)
            while occ is not None:
                yield occ
                occ = following(spec, occ)

        return occurrence_rows(occurrences(), count, spec.max_runs), title, None
    if isinstance(trigger, ScheduleTrigger):
        zone = get_zone(trigger.timezone or "UTC")
        instant = trigger.instant()
        if trigger.timezone is not None:
            instant = instant.astimezone(zone)
        at = now_in(zone)
        title = f"the one fire of {definition.id} (run_at {trigger.run_at})"
        if instant <= at:
            return [], title, (f"run_at {trigger.run_at} of {definition.id} is in the past: "
                               "it will not fire")
        return [{"at": iso(instant), "utc": iso_utc(instant), "note": None}], title, None
    if isinstance(trigger, EventTrigger):
        raise InvalidInput(f"workflow {definition.id} is started by the event "
                           f"{trigger.event!r}, not by the clock: it has no fire times")
    raise InvalidInput(f"workflow {definition.id} has no trigger: it is started only by hand "
                       "(clockwf run), so it has no fire times")


def fires(rows: list[dict[str, str | None]]) -> Doc:
    """``clockwf next --format json``."""
    return {"fires": rows}
