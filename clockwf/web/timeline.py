"""A workflow's timeline over a span: every occurrence, what became of it, and DST changes.

Each occurrence of the schedule in the span is matched to its run (by fire key) or to the
skip record that covers it (the reason it was not launched: coalesced, outside_window, missed,
paused, overlap, dst_skip); runs that belong to no occurrence (manual, event) are listed apart.
Nothing here is web-specific; the API returns :func:`timeline` as it is and the workflow page
draws it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from clockwf.lifecycle import current_definition
from clockwf.runs import run_json
from clockwf.schedule import SKIP_REASON_TEXT, Occurrence, ScheduleSpec, occurrences_between
from clockwf.store.base import Row, Store
from clockwf.timeutil import iso, iso_utc, zone_or_offset

MAX_OCCURRENCES = 1500
MAX_SPAN = timedelta(days=400)
MAX_RUNS = 500


def dst_changes(zone_name: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The instants in (start, end] at which the zone's UTC offset changes."""
    from clockwf.errors import TimezoneError
    from clockwf.tz import zone_rules

    try:
        rules = zone_rules(zone_name)
    except TimezoneError:  # a fixed offset or an unknown name: no changes to show
        return []
    zone = zone_or_offset(zone_name)
    t, stop = start.timestamp(), end.timestamp()
    found: list[dict[str, Any]] = []
    while len(found) < 100:
        period = rules.period(t)
        if period.end is None or period.end > stop:
            break
        at = datetime.fromtimestamp(period.end, UTC)
        before = (at - timedelta(seconds=1)).astimezone(zone)
        after = at.astimezone(zone)
        found.append({"at": iso_utc(at), "before": iso(before), "after": iso(after),
                      "offset_before": before.strftime("%z"),
                      "offset_after": after.strftime("%z")})
        t = period.end
    return found


def _covering(skips: list[Row], nominal: datetime) -> Row | None:
    for skip in skips:
        if skip["scheduled_for"] <= nominal <= skip["scheduled_until"]:
            return skip
    return None


def _entry(occ: Occurrence, by_key: dict[str, Row], skips: list[Row], now: datetime,
           paused_at: datetime | None, waiting: datetime | None) -> dict[str, Any]:
    """The timeline entry of one occurrence: its run (by fire key) if it has one, else why it
    has none (a DST gap, the skip record covering it, not due yet, the workflow paused, the
    tick not there yet), else ``no_record``."""
    entry: dict[str, Any] = {
        "scheduled_for": iso(occ.local), "utc": iso_utc(occ.nominal),
        "fire_key": occ.fire_key, "kind": occ.kind, "note": occ.note,
        "outcome": "no_record", "run_id": None, "status": None, "reason": None,
        "detail": None,
    }
    run = by_key.get(occ.fire_key)
    skip = _covering(skips, occ.nominal)
    if run is not None:
        entry.update(outcome="launched", run_id=run["run_id"], status=run["status"])
    elif not occ.fires:
        entry.update(outcome="skipped", reason="dst_skip",
                     detail=occ.note or SKIP_REASON_TEXT["dst_skip"])
    elif skip is not None:
        entry.update(outcome="skipped", reason=skip["reason"],
                     detail=skip.get("detail") or SKIP_REASON_TEXT.get(skip["reason"]))
    elif occ.nominal > now:
        entry["outcome"] = "upcoming"
    elif paused_at is not None and occ.nominal >= paused_at:
        entry.update(outcome="skipped", reason="paused", detail=SKIP_REASON_TEXT["paused"])
    elif waiting is not None and occ.nominal >= waiting:
        entry["outcome"] = "pending"
    return entry


def timeline(store: Store, workflow_id: str, start: datetime, end: datetime,
             now: datetime) -> dict[str, Any]:
    """The timeline document of ``workflow_id`` over [start, end]."""
    from clockwf.errors import InvalidInput

    start, end, now = start.astimezone(UTC), end.astimezone(UTC), now.astimezone(UTC)
    if end <= start:
        raise InvalidInput("the span's end must come after its start")
    if end - start > MAX_SPAN:
        raise InvalidInput(f"the span may cover at most {MAX_SPAN.days} days")
    with store.read() as tx:
        workflow, _version, definition = current_definition(tx, workflow_id)
        schedule = tx.get_schedule(workflow_id)
        skips = tx.skips_between(workflow_id, start, end)
        recent = tx.list_runs(workflow_id=workflow_id, since=start - timedelta(days=1),
                              limit=MAX_RUNS)
    spec = ScheduleSpec.from_row(schedule) if schedule else ScheduleSpec.from_definition(
        definition)
    zone_name = spec.timezone if spec is not None else "UTC"
    occs = [] if spec is None else occurrences_between(
        spec, start, end, include_skipped=True, limit=MAX_OCCURRENCES + 1)
    truncated = len(occs) > MAX_OCCURRENCES
    occs = occs[:MAX_OCCURRENCES]
    with store.read() as tx:
        by_key = {r["fire_key"]: r for r in tx.runs_by_fire_keys([o.fire_key for o in occs])}
    paused_at = workflow.get("paused_at") if workflow.get("paused") else None
    waiting = schedule.get("next_nominal_at") if schedule else None
    entries = [_entry(occ, by_key, skips, now, paused_at, waiting) for occ in occs]
    keys = {o.fire_key for o in occs}
    others = [run_json(r) for r in recent
              if r["fire_key"] not in keys and start <= r["created_at"] <= end]
    return {
        "workflow_id": workflow_id, "from": iso_utc(start), "to": iso_utc(end),
        "now": iso_utc(now), "timezone": zone_name, "occurrences": entries,
        "truncated": truncated, "runs": others,
        "dst_changes": dst_changes(zone_name, start, end),
    }
