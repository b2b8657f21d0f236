"""``clockwf simulate``: the real tick on a simulated clock, in a throwaway store.

The definition is published into a temporary SQLite store at ``start``; then the simulated clock
jumps from one due instant to the next (never polling), calling the same :func:`tick` the daemon
calls. ``down`` windows model a daemon that is not running: no tick happens inside them, and the
first tick after one applies the catch-up policy. Runs "execute" for ``run_duration`` (claimed
and finished in the store the way the executor would), so overlap policies act as they would.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from clockwf.errors import InvalidInput
from clockwf.launcher import provenance
from clockwf.lifecycle import publish
from clockwf.scheduler import tick
from clockwf.store import open_store
from clockwf.timeutil import iso, iso_utc, zone_or_offset
from clockwf.validate import FileReport, validate_source

MAX_EVENTS = 200_000
OWNER = "simulation"


@dataclass
class SimulatedOccurrence:
    scheduled_for: datetime          # local, aware
    outcome: str                     # launched | skipped | pending
    reason: str | None = None        # for skipped: coalesced, outside_window, missed, ...
    fired_at: datetime | None = None
    run_id: int | None = None
    catchup: bool = False
    note: str | None = None
    count: int = 1

    def as_json(self) -> dict[str, Any]:
        return {"scheduled_for": iso(self.scheduled_for), "utc": iso_utc(self.scheduled_for),
                "outcome": self.outcome, "reason": self.reason, "fired_at": iso_utc(self.fired_at),
                "run_id": self.run_id, "catchup": self.catchup, "note": self.note,
                "count": self.count}


@dataclass
class Simulation:
    workflow_id: str
    start: datetime
    end: datetime
    down: list[tuple[datetime, datetime]]
    occurrences: list[SimulatedOccurrence] = field(default_factory=list)
    ticks: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "workflow_id": self.workflow_id, "from": iso_utc(self.start), "to": iso_utc(self.end),
            "down": [{"from": iso_utc(a), "to": iso_utc(b)} for a, b in self.down],
            "ticks": self.ticks,
            "occurrences": [o.as_json() for o in self.occurrences],
        }


def parse_down(text: str, parse: Any) -> tuple[datetime, datetime]:
    if ".." not in text:
        raise InvalidInput(f"--down {text!r}: write FROM..TO, two ISO 8601 instants")
    a, b = text.split("..", 1)
    start, end = parse(a), parse(b)
    if end <= start:
        raise InvalidInput(f"--down {text!r}: TO must be after FROM")
    return start, end


def simulate(report: FileReport, start: datetime, end: datetime, *,
             down: list[tuple[datetime, datetime]] | None = None,
             run_duration: timedelta = timedelta(0)) -> Simulation:
    if report.definition is None:
        raise InvalidInput("the definition is not valid")
    if end <= start:
        raise InvalidInput("--to must be after --from")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    downs = sorted((a.astimezone(UTC), b.astimezone(UTC)) for a, b in (down or []))
    definition = report.definition
    if definition.trigger_type not in ("schedule", "recurring"):
        raise InvalidInput(f"{definition.id} has no time trigger ({definition.trigger_type}): "
                           "there is nothing to simulate")
    # Re-validate as a publish at the simulated start (run_at must lie after it).
    checked = validate_source(report.source or "", report.path, start, for_publish=True)
    if not checked.ok:
        from clockwf.errors import DefinitionInvalid

        raise DefinitionInvalid(checked.errors)
    result = Simulation(definition.id, start, end, downs)
    zone = zone_or_offset(_zone_of(checked))
    with tempfile.TemporaryDirectory(prefix="clockwf-sim-") as tmp:
        store = open_store(str(Path(tmp) / "simulation.db"), "simulation")
        try:
            publish(store, [checked], start)
            _run(store, result, end, downs, run_duration, zone)
        finally:
            store.close()
    return result


def _zone_of(report: FileReport) -> str:
    from clockwf.schedule import ScheduleSpec

    assert report.definition is not None
    spec = ScheduleSpec.from_definition(report.definition)
    return spec.timezone if spec is not None else "UTC"


def _in_down(t: datetime, downs: list[tuple[datetime, datetime]]) -> tuple[datetime,
                                                                           datetime] | None:
    for a, b in downs:
        if a <= t < b:
            return a, b
    return None


def _run(store: Any, result: Simulation, end: datetime, downs: list[tuple[datetime, datetime]],
         run_duration: timedelta, zone: Any) -> None:
    finishing: dict[int, datetime] = {}
    clock = result.start
    for _ in range(MAX_EVENTS):
        with store.read() as tx:
            earliest = tx.earliest_due()
        candidates = [t for t in [earliest, *finishing.values()] if t is not None]
        if not candidates:
            break
        t = max(min(candidates), clock)
        window = _in_down(t, downs)
        if window is not None:
            t = window[1]
        if t > end:
            break
        _finish_runs(store, finishing, t)
        if earliest is not None and earliest <= t:
            report = tick(store, t, instance=OWNER)
            result.ticks += 1
            _collect(store, result, report, zone, downs)
        # Runs start when they can (a serial run waits for the one before it to finish).
        _start_runs(store, finishing, t, run_duration)
        clock = t
    # What is left: occurrences due inside the window that no tick processed (daemon down).
    with store.read() as tx:
        schedule = tx.get_schedule(result.workflow_id)
    if schedule is not None and schedule["status"] == "scheduled":
        from clockwf.schedule import ScheduleSpec, occurrences_between

        spec = ScheduleSpec.from_row(schedule)
        start = schedule["next_nominal_at"]
        if start is not None and start <= end:
            for occ in occurrences_between(spec, start, end, limit=10_000):
                result.occurrences.append(SimulatedOccurrence(
                    occ.local, "pending", "daemon down" if _in_down(occ.due, downs) else None,
                    note=occ.note))
    # By instant: local times in one zone compare by wall clock, ignoring the fold.
    result.occurrences.sort(key=lambda o: (o.scheduled_for.astimezone(UTC), o.outcome))


def _collect(store: Any, result: Simulation, report: Any, zone: Any,
             downs: list[tuple[datetime, datetime]]) -> None:
    run_ids = [e["run_id"] for e in report.launched]
    runs: dict[int, Any] = {}
    with store.read() as tx:
        for run_id in run_ids:
            runs[run_id] = tx.get_run(run_id)
    for entry in report.launched:
        run = runs[entry["run_id"]]
        meta = provenance(run)
        result.occurrences.append(SimulatedOccurrence(
            run["scheduled_for"].astimezone(zone), "launched", None, report.now,
            entry["run_id"], bool(meta.get("catchup")),
            meta.get("calendar_note") or meta.get("dst_note")))
    for entry in report.skipped:
        scheduled = datetime.fromisoformat(entry["scheduled_for"]).astimezone(zone)
        note = entry.get("detail")
        if _in_down(scheduled.astimezone(UTC), downs) and entry["reason"] in (
                "coalesced", "outside_window", "missed"):
            note = f"missed while down; {note}" if note else "missed while down"
        result.occurrences.append(SimulatedOccurrence(
            scheduled, "skipped", entry["reason"], report.now, note=note,
            count=int(entry.get("count", 1))))


def _start_runs(store: Any, finishing: dict[int, datetime], t: datetime,
                duration: timedelta) -> None:
    with store.transaction() as tx:
        for run in tx.claim_runs(owner=OWNER, now=t, lease_seconds=3650 * 86400.0,
                                 limit=10_000):
            finishing[run["run_id"]] = t + duration


def _finish_runs(store: Any, finishing: dict[int, datetime], t: datetime) -> None:
    done = [run_id for run_id, at in finishing.items() if at <= t]
    if not done:
        return
    with store.transaction() as tx:
        for run_id in done:
            run = tx.get_run(run_id)
            status = "cancelled" if run is not None and run["cancel_requested"] else "succeeded"
            tx.finish_run(run_id, owner=OWNER, status=status, error=None,
                          now=finishing[run_id])
            del finishing[run_id]
