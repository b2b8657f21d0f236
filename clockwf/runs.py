"""Runs from the outside: manual starts, events, backfills, history and answers (docs/design.md §7).

Every run started here goes through :func:`clockwf.launcher.launch`, like the tick's.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, NamedTuple

from clockwf.errors import InvalidInput, NotFound, PayloadTooLarge, Refused
from clockwf.launcher import (
    PAYLOAD_LIMIT,
    encode_payload,
    event_run,
    launch,
    manual_run,
    new_event_id,
    provenance,
    time_run,
)
from clockwf.lifecycle import current_definition, load_definition
from clockwf.models import EVENT_PATTERN, TRIGGER_TYPES
from clockwf.schedule import (
    SKIP_REASON_TEXT,
    Occurrence,
    ScheduleSpec,
    occurrences_between,
)
from clockwf.store.base import Row, Store
from clockwf.timeutil import iso, iso_utc, zone_or_offset

RUN_STATUSES = ("queued", "running", "succeeded", "failed", "timed_out", "cancelled",
                "interrupted")
FINAL_STATUSES = ("succeeded", "failed", "timed_out", "cancelled", "interrupted")
MAX_BACKFILL = 10_000


def parse_payload(text: str | None, *, stdin: BinaryIO | None = None) -> Any:
    """``--payload``: JSON text, ``@FILE`` (the file's contents) or ``-`` (standard input), as
    curl takes them; held to the payload limit here already, so that nothing is opened for a
    payload the launcher would refuse.

    :raises InvalidInput: unreadable, not JSON, or over the limit (:class:`PayloadTooLarge`).
    """
    if text is None:
        return None
    source = "--payload"
    if text == "-" or text.startswith("@"):
        source = "--payload -" if text == "-" else f"--payload {text}"
        text = _read_payload(text, stdin, source)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} "
                           f"column {exc.colno}") from None
    encode_payload(value, f"the payload of {source}")
    return value


_RAW_PAYLOAD_LIMIT = 16 * PAYLOAD_LIMIT   # a file or stream larger than this is not even parsed


def _read_payload(text: str, stdin: BinaryIO | None, source: str) -> str:
    try:
        if text == "-":
            data = (stdin or sys.stdin.buffer).read(_RAW_PAYLOAD_LIMIT + 1)
        else:
            with open(text[1:], "rb") as fh:
                data = fh.read(_RAW_PAYLOAD_LIMIT + 1)
    except OSError as exc:
        raise InvalidInput(f"{source}: cannot read {text[1:] or 'standard input'}: "
                           f"{exc.strerror or exc}") from None
    if len(data) > _RAW_PAYLOAD_LIMIT:
        raise PayloadTooLarge(f"{source} is over {_RAW_PAYLOAD_LIMIT // 1024 // 1024} MiB; "
                              f"payloads are limited to {PAYLOAD_LIMIT // 1024} KiB as compact "
                              "JSON: pass large data by reference (a path or a URL) instead")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{source} is not UTF-8 (byte {exc.start + 1})") from None


@dataclass(frozen=True)
class Started:
    workflow_id: str
    fire_key: str
    run_id: int | None       # None: the key was already used
    existing_run_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {"workflow_id": self.workflow_id, "fire_key": self.fire_key,
                "run_id": self.run_id, "duplicate": self.run_id is None,
                "existing_run_id": self.existing_run_id}


def start_manual(store: Store, workflow_id: str, now: datetime, *, payload: Any = None,
                 key: str | None = None) -> Started:
    """``clockwf run ID``: starts even when the workflow is paused (pause stops triggers only).
    With ``key``, a second start under the same key launches nothing and names the first run."""
    if key is not None and (not key or len(key) > 200 or any(c.isspace() for c in key)):
        raise InvalidInput("--key must be 1-200 characters without spaces")
    with store.transaction() as tx:
        _workflow, version, definition = current_definition(tx, workflow_id)
        run = manual_run(workflow_id, version, definition, payload=payload, key=key,
                         now=now.astimezone(UTC))
        result = launch(tx, [run])[0]
        existing = None
        if result.run_id is None:
            rows = tx.runs_by_fire_keys([run.fire_key])
            existing = rows[0]["run_id"] if rows else None
    return Started(workflow_id, run.fire_key, result.run_id, existing)


def emit(store: Store, event: str, now: datetime, *, payload: Any = None,
         event_id: str | None = None) -> list[Started]:
    """``clockwf emit EVENT``: one run for every published, unpaused workflow on that event.
    Re-emitting with the same ``event_id`` launches nothing twice."""
    if not re.match(EVENT_PATTERN, event):
        raise InvalidInput(f"event name {event!r} must match {EVENT_PATTERN}")
    if event_id is not None and (not event_id or len(event_id) > 200
                                 or any(c.isspace() for c in event_id)):
        raise InvalidInput("--id must be 1-200 characters without spaces")
    encode_payload(payload)  # refused even when no workflow listens
    eid = event_id or new_event_id()
    now = now.astimezone(UTC)
    out: list[Started] = []
    with store.transaction() as tx:
        runs = []
        for workflow in tx.workflows_for_event(event):
            version = int(workflow["current_version"])
            row = tx.get_version(workflow["workflow_id"], version)
            if row is None:
                continue
            definition = load_definition(row)
            runs.append(event_run(workflow["workflow_id"], version, definition, event=event,
                                  event_id=eid, payload=payload, now=now))
        results = launch(tx, runs)
        taken = [r.fire_key for r in results if r.run_id is None]
        existing = {r["fire_key"]: r["run_id"] for r in tx.runs_by_fire_keys(taken)} \
            if taken else {}
        for r in results:
            out.append(Started(r.workflow_id, r.fire_key, r.run_id, existing.get(r.fire_key)))
    return out


def _spec_for(store: Store, workflow_id: str) -> tuple[ScheduleSpec, int]:
    with store.read() as tx:
        _workflow, version, definition = current_definition(tx, workflow_id)
        schedule = tx.get_schedule(workflow_id)
    spec = ScheduleSpec.from_row(schedule) if schedule else ScheduleSpec.from_definition(
        definition)
    if spec is None:
        raise Refused(f"{workflow_id} has no time trigger ({definition.trigger_type}): there "
                      "are no occurrences to backfill or explain")
    return spec, version


@dataclass
class BackfillReport:
    workflow_id: str
    dry_run: bool
    launched: list[dict[str, Any]] = field(default_factory=list)
    existing: list[dict[str, Any]] = field(default_factory=list)
    would_launch: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"workflow_id": self.workflow_id, "dry_run": self.dry_run,
                "launched": self.launched, "existing": self.existing,
                "would_launch": self.would_launch}


def backfill(store: Store, workflow_id: str, start: datetime, end: datetime, now: datetime, *,
             dry_run: bool = False, instance: str | None = None) -> BackfillReport:
    """Launch every occurrence in [start, end] that has no run yet, marked backfill. An
    occurrence whose fire key exists is reported, not relaunched."""
    if end < start:
        raise InvalidInput("--to is before --from")
    now = now.astimezone(UTC)
    if start > now:
        raise InvalidInput("the range lies in the future: backfill covers past occurrences")
    end = min(end, now)
    spec, version = _spec_for(store, workflow_id)
    occs = occurrences_between(spec, start, end, limit=MAX_BACKFILL + 1)
    if len(occs) > MAX_BACKFILL:
        raise Refused(f"the range holds more than {MAX_BACKFILL} occurrences; backfill a "
                      "smaller range at a time")
    report = BackfillReport(workflow_id, dry_run)
    with store.transaction() as tx:
        existing = {r["fire_key"]: r for r in tx.runs_by_fire_keys([o.fire_key for o in occs])}
        fresh = [o for o in occs if o.fire_key not in existing]
        for occ in occs:
            if occ.fire_key in existing:
                run = existing[occ.fire_key]
                report.existing.append({"fire_key": occ.fire_key, "run_id": run["run_id"],
                                        "status": run["status"],
                                        "scheduled_for": iso(occ.local)})
        if dry_run:
            report.would_launch = [{"fire_key": o.fire_key, "scheduled_for": iso(o.local)}
                                   for o in fresh]
            return report
        runs = [time_run(spec, version, o, now=now, catchup=False, backfill=True,
                         instance=instance) for o in fresh]
        for result, occ in zip(launch(tx, runs), fresh, strict=True):
            entry = {"fire_key": occ.fire_key, "run_id": result.run_id,
                     "scheduled_for": iso(occ.local)}
            (report.launched if result.run_id is not None else report.existing).append(entry)
        if fresh:
            tx.bump_changes()
    return report


# -- history -------------------------------------------------------------------------------------

def list_runs(store: Store, *, workflow_id: str | None = None, trigger: str | None = None,
              status: str | None = None, since: datetime | None = None,
              limit: int = 50) -> list[Row]:
    if trigger is not None and trigger not in TRIGGER_TYPES:
        raise InvalidInput(f"--trigger must be one of {', '.join(TRIGGER_TYPES)}; got {trigger!r}")
    if status is not None and status not in RUN_STATUSES:
        raise InvalidInput(f"--status must be one of {', '.join(RUN_STATUSES)}; got {status!r}")
    if limit < 1:
        raise InvalidInput("--limit must be at least 1")
    with store.read() as tx:
        return tx.list_runs(workflow_id=workflow_id, trigger_type=trigger, status=status,
                            since=since, limit=limit)


def metadata(run: Row) -> dict[str, Any]:
    """The run's provenance, whole (:func:`clockwf.launcher.provenance`)."""
    return provenance(run)


def run_json(run: Row) -> dict[str, Any]:
    meta = metadata(run)
    scheduled = run.get("scheduled_for")
    zone = meta.get("timezone")
    local = (scheduled.astimezone(zone_or_offset(zone)) if scheduled is not None and zone
             else scheduled)
    return {
        "run_id": run["run_id"],
        "workflow_id": run["workflow_id"],
        "workflow_version": run["workflow_version"],
        "trigger_type": run["trigger_type"],
        "fire_key": run["fire_key"],
        "scheduled_for": iso(local),
        "status": run["status"],
        "created_at": iso_utc(run["created_at"]),
        "started_at": iso_utc(run.get("started_at")),
        "finished_at": iso_utc(run.get("finished_at")),
        "metadata": meta,
    }


def provenance_label(run: Row) -> str:
    """``recurring 02:30 America/New_York, fired 03:00 EDT: DST gap``, ``catch-up``, ..."""
    meta = metadata(run)
    kind = run["trigger_type"]
    if kind == "manual":
        return "manual" + (f" (key {meta['key']})" if meta.get("key_given") else "")
    if kind == "event":
        return f"event {meta.get('event', '?')}"
    parts = [str(meta.get("label") or kind)]
    dst = meta.get("dst")
    scheduled = run.get("scheduled_for")
    if dst and scheduled is not None and meta.get("timezone"):
        local = scheduled.astimezone(zone_or_offset(meta["timezone"]))
        what = {"gap_shifted": "DST gap", "fold_first": "DST fold, first pass",
                "fold_second": "DST fold, second pass"}.get(dst, dst)
        parts[0] += f", fired {local:%H:%M} {local.tzname()}: {what}"
    if meta.get("catchup"):
        parts.append("catch-up")
    if meta.get("backfill"):
        parts.append("backfill")
    return ", ".join(parts)


# -- explain -------------------------------------------------------------------------------------

@dataclass
class Explanation:
    workflow_id: str
    at: datetime
    outcome: str       # launched | skipped | pending | not_due | no_record | not_an_occurrence
    message: str
    occurrence: Occurrence | None = None
    run: Row | None = None
    skip: Row | None = None
    nearest: list[Occurrence] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        def occ_json(o: Occurrence | None) -> dict[str, Any] | None:
            if o is None:
                return None
            return {"scheduled_for": iso(o.local), "utc": iso_utc(o.nominal),
                    "fire_key": o.fire_key, "kind": o.kind, "note": o.note,
                    "fires": o.fires}
        return {
            "workflow_id": self.workflow_id, "at": iso_utc(self.at), "outcome": self.outcome,
            "message": self.message, "occurrence": occ_json(self.occurrence),
            "run": run_json(self.run) if self.run is not None else None,
            "skip": _skip_json(self.skip) if self.skip is not None else None,
            "nearest": [occ_json(o) for o in self.nearest],
        }


def _skip_json(row: Row) -> dict[str, Any]:
    return {"reason": row["reason"], "detail": row.get("detail"),
            "scheduled_for": iso_utc(row["scheduled_for"]),
            "scheduled_until": iso_utc(row["scheduled_until"]),
            "occurrences": row["occurrences"], "recorded_at": iso_utc(row["recorded_at"])}


def _around(spec: ScheduleSpec, at: datetime) -> tuple[Occurrence | None, Occurrence | None]:
    """The last occurrence at or before ``at`` and the first after it (skipped ones too)."""
    before = after = None
    for window in (timedelta(hours=2), timedelta(days=2), timedelta(days=40),
                   timedelta(days=400), timedelta(days=3700), timedelta(days=36600)):
        occs = occurrences_between(spec, at - window, at + window, include_skipped=True,
                                   limit=20_000)
        before = next((o for o in reversed(occs) if o.nominal <= at), None)
        after = next((o for o in occs if o.nominal > at), None)
        if before is not None and after is not None:
            break
        if spec.trigger_type == "schedule":
            break
    return before, after


def explain(store: Store, workflow_id: str, at: datetime, now: datetime, *,
            note: str | None = None) -> Explanation:
    """What happened to the occurrence nearest ``at``. ``note`` (say, that the local time asked
    about does not exist) is put in front of the answer."""
    at = at.astimezone(UTC)
    now = now.astimezone(UTC)
    spec, _version = _spec_for(store, workflow_id)
    before, after = _around(spec, at)
    candidates = [o for o in (before, after) if o is not None]
    if not candidates:
        return Explanation(workflow_id, at, "not_an_occurrence",
                           f"{workflow_id} has no occurrence near {iso_utc(at)}")
    occ = min(candidates, key=lambda o: (abs((o.nominal - at).total_seconds()),
                                         o.nominal))
    exact = occ.nominal == at
    records = _records(store, workflow_id, occ)
    when = iso(occ.local)
    asked = iso(at.astimezone(occ.local.tzinfo))
    lead = "" if exact else (f"{asked} is not an occurrence of {workflow_id}; the nearest "
                             f"is {when}. ")
    if note:
        lead = f"{note}; the nearest occurrence is {when}. "
    result = Explanation(workflow_id, at, "no_record", "", occ, nearest=candidates)
    _account_for(result, occ, records, now)
    result.message = lead + result.message
    if occ.note and occ.fires and result.outcome != "launched":
        result.message += f" [{occ.note}]"
    return result


class _Records(NamedTuple):
    """What the store holds about one occurrence of a workflow, read in one transaction."""

    runs: list[Row]
    skips: list[Row]
    schedule: Row | None
    workflow: Row | None
    versions: list[Row]


def _records(store: Store, workflow_id: str, occ: Occurrence) -> _Records:
    with store.read() as tx:
        return _Records(tx.runs_by_fire_keys([occ.fire_key]),
                        tx.skips_between(workflow_id, occ.nominal, occ.nominal),
                        tx.get_schedule(workflow_id), tx.get_workflow(workflow_id),
                        tx.list_versions(workflow_id))


def _account_for(result: Explanation, occ: Occurrence, records: _Records,
                 now: datetime) -> None:
    """``result``'s outcome, its run or skip, and its message (the lead still to come): what
    the records say happened to ``occ``, or why none is there."""
    when = iso(occ.local)
    workflow, schedule = records.workflow, records.schedule
    if not occ.fires:
        skip = next((s for s in records.skips if s["reason"] == occ.skip_reason), None)
        result.outcome, result.skip = "skipped", skip
        result.message = occ.note or SKIP_REASON_TEXT[occ.skip_reason]
    elif records.runs:
        run = records.runs[0]
        result.outcome, result.run = "launched", run
        result.message = _launched(run, occ, when)
    elif records.skips:
        skip = records.skips[0]
        result.outcome, result.skip = "skipped", skip
        reason = skip.get("detail") or SKIP_REASON_TEXT.get(skip["reason"], skip["reason"])
        result.message = f"{when} was not launched: {skip['reason']}: {reason}"
    elif occ.nominal > now:
        result.outcome = "not_due"
        result.message = f"{when} is in the future (now is {iso_utc(now)})"
    elif workflow is not None and workflow["paused"] and workflow.get("paused_at") \
            and occ.nominal >= workflow["paused_at"]:
        result.outcome = "skipped"
        result.message = (f"{when} fell while the workflow is paused (since "
                          f"{iso_utc(workflow['paused_at'])}); it will not run")
    elif schedule is not None and schedule.get("next_nominal_at") is not None \
            and occ.nominal >= schedule["next_nominal_at"]:
        result.outcome = "pending"
        result.message = (f"{when} is due but no daemon has processed it yet (the "
                          f"schedule is waiting at {iso_utc(schedule['next_nominal_at'])})")
    else:
        result.message = _unrecorded(result.workflow_id, occ, records.versions, when)


def _launched(run: Row, occ: Occurrence, when: str | None) -> str:
    """The message of a launched occurrence: its run, status and launch time, its lag and how
    it came to run (catch-up, backfill, the occurrence's note)."""
    meta = metadata(run)
    extras = []
    if meta.get("catchup"):
        extras.append("as a catch-up")
    if meta.get("backfill"):
        extras.append("by a backfill")
    if occ.note:
        extras.append(occ.note)
    lag = meta.get("launch_lag_ms")
    return (f"{when} was launched as run {run['run_id']} "
            f"({run['status']}) at {iso_utc(run['created_at'])}"
            + (f", {lag} ms after it was due" if lag is not None else "")
            + ("; " + "; ".join(extras) if extras else ""))


def _unrecorded(workflow_id: str, occ: Occurrence, versions: list[Row], when: str | None) -> str:
    """Why a past occurrence has neither run nor skip: it came before the first publish, or
    its records are gone."""
    first = min((v["published_at"] for v in versions), default=None)
    if first is not None and occ.nominal < first:
        return f"{when} came before {workflow_id} was first published ({iso_utc(first)})"
    return (f"no run or skip is recorded for {when} (its records may "
            "have been pruned, or the trigger changed since)")


def get_run(store: Store, run_id: int) -> tuple[Row, list[Row]]:
    with store.read() as tx:
        run = tx.get_run(run_id)
        if run is None:
            raise NotFound(f"no run {run_id} in namespace {store.ns!r}")
        return run, tx.list_step_attempts(run_id)


def cancel_runs(store: Store, run_ids: Sequence[int], now: datetime) -> list[Row]:
    with store.transaction() as tx:
        rows = []
        for run_id in run_ids:
            run = tx.get_run(run_id)
            if run is None:
                raise NotFound(f"no run {run_id} in namespace {store.ns!r}")
            if run["status"] not in ("queued", "running"):
                raise Refused(f"run {run_id} is already {run['status']}")
            rows.append(run)
        tx.request_cancel(list(run_ids), reason="cancelled by `clockwf runs cancel`",
                          now=now.astimezone(UTC))
    return rows
