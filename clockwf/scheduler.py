"""The tick: claim due schedules, launch their occurrences, advance them, commit (docs/design.md §6, §9).

One :func:`tick` is exactly one claim-launch-advance pass at an instant it is given. It executes
nothing. Each batch of claimed schedules is one transaction, in which the runs are created under
their unique fire keys, the skipped occurrences are recorded, and the schedules advance: a crash
at any point either commits all of that or none of it, so no occurrence is lost or launched twice.
Within one tick a schedule is processed at most once (``max_catchup`` is per tick).
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from clockwf.launcher import launch, time_run
from clockwf.notify.outbox import expectations_for_tick, record_missed
from clockwf.schedule import (
    Occurrence,
    Plan,
    ScheduleSpec,
    SkipGroup,
    first_after,
    occurrence_at,
    plan,
)
from clockwf.store.base import NewRun, NewSkip, Row, ScheduleAdvance, Store
from clockwf.store.manager import Tx
from clockwf.timeutil import format_duration, iso, iso_shared, iso_utc

log = logging.getLogger("clockwf.scheduler")

DEFAULT_BATCH = 1000
RETRY_UNPLANNABLE = timedelta(minutes=5)
MAX_SKIPS_LISTED = 1000


@dataclass
class TickReport:
    now: datetime
    launched: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    schedules: int = 0
    cancel_requested: list[int] = field(default_factory=list)
    notifications: int = 0      # written by the expect checks (overdue, slow)

    def as_json(self) -> dict[str, Any]:
        return {
            "now": iso_utc(self.now),
            "launched": self.launched,
            "skipped": self.skipped,
            "completed": self.completed,
            "missed": self.missed,
        }

    def merge(self, other: TickReport) -> None:
        self.launched += other.launched
        self.duplicates += other.duplicates
        self.skipped += other.skipped
        self.completed += other.completed
        self.missed += other.missed
        self.schedules += other.schedules
        self.cancel_requested += other.cancel_requested


def current_occurrence(spec: ScheduleSpec, row: Row) -> Occurrence | None:
    """The occurrence a schedule row points at; recomputed if the row is inconsistent."""
    nominal = row.get("next_nominal_at")
    if nominal is None:
        return None
    occ = occurrence_at(spec, nominal, row.get("next_kind"))
    if occ is None:
        # The row no longer names an occurrence (say, the tz database changed): resume from
        # just before it so that nothing after it is lost.
        log.warning("schedule %s pointed at %s, which is not an occurrence; recomputing",
                    spec.workflow_id, iso_utc(nominal),
                    extra={"action": "schedule.recomputed", "workflow_id": spec.workflow_id})
        occ = first_after(spec, nominal - timedelta(seconds=1))
    return occ


def _skip_rows(workflow_id: str, group: SkipGroup, now: datetime) -> NewSkip:
    return NewSkip(workflow_id=workflow_id, fire_key=group.first.fire_key,
                   scheduled_for=group.first.nominal, scheduled_until=group.last.nominal,
                   occurrences=group.count, reason=group.reason, detail=group.detail,
                   recorded_at=now)


def advance_for(spec: ScheduleSpec, p: Plan, last_key: str | None,
                last_fired_at: datetime | None, now: datetime,
                launched: int = 0) -> ScheduleAdvance:
    nxt = p.next
    reason = p.status_reason
    if nxt is None and p.status == "scheduled" and spec.trigger_type == "recurring":
        reason = spec.completion_reason()   # end_at, or a rule that ends (COUNT, UNTIL)
    return ScheduleAdvance(
        workflow_id=spec.workflow_id,
        next_nominal_at=nxt.nominal if nxt is not None else None,
        next_kind=nxt.kind if nxt is not None else None,
        next_fire_at=nxt.due if nxt is not None else None,
        status=p.status if nxt is not None or p.status != "scheduled" else "completed",
        status_reason=reason,
        last_fire_key=last_key, last_fired_at=last_fired_at, updated_at=now,
        launched=launched,
    )


@dataclass
class Batch:
    """A batch of claimed schedules, planned inside its still open transaction: its runs are
    built, and what is left is to write them, the skips and the advances (:func:`write`)."""

    rows: list[Row]
    owners: list[tuple[ScheduleSpec, Row, Plan, list[Occurrence]]]
    runs: list[NewRun]
    cancel: list[int]
    postponed: list[ScheduleAdvance] = field(default_factory=list)


def _postpone(row: Row, exc: Exception, now: datetime) -> ScheduleAdvance:
    """A schedule row this clockwf cannot plan (say, its zone left the tz database) must not
    block the others claimed with it, nor keep the daemon busy: it keeps its occurrence and is
    tried again after ``RETRY_UNPLANNABLE``; the reason is shown by ``clockwf show``."""
    return ScheduleAdvance(
        workflow_id=row["workflow_id"], next_nominal_at=row["next_nominal_at"],
        next_fire_at=now + RETRY_UNPLANNABLE, status="scheduled",   # claimed rows are
        status_reason=f"cannot be planned: {exc}"[:500], last_fire_key=None,
        last_fired_at=None, updated_at=now, next_kind=row.get("next_kind"))


def prepare(tx: Tx, rows: list[Row], now: datetime, instance: str | None,
            seen: set[str] | None = None) -> Batch:
    """Plan the claimed rows, apply overlap and build their runs (reads only, inside ``tx``).

    ``seen``: the workflows this tick has processed already. A schedule advanced by an earlier
    batch but still due (a catch-up backlog) can come back through the keyset cursor; it is
    left for the next tick, so that a tick processes each schedule once (``max_catchup``)."""
    if seen is not None:
        rows = [row for row in rows if row["workflow_id"] not in seen]
        seen.update(row["workflow_id"] for row in rows)
    planned: list[tuple[ScheduleSpec, Row, Plan]] = []
    postponed: list[ScheduleAdvance] = []
    for row in rows:
        try:
            spec = ScheduleSpec.from_row(row)
            planned.append((spec, row, plan(spec, current_occurrence(spec, row), now)))
        except Exception as exc:  # one bad row must not stop the batch
            log.error("schedule %s cannot be planned: %s (trying again in %s)",
                      row["workflow_id"], exc, format_duration(RETRY_UNPLANNABLE), exc_info=True,
                      extra={"action": "schedule.error", "workflow_id": row["workflow_id"]})
            postponed.append(_postpone(row, exc, now))

    guarded = [spec.workflow_id for spec, _row, p in planned
               if p.launches and spec.overlap != "allow"]
    active: dict[str, list[Row]] = {}
    if guarded:
        for run in tx.active_runs(guarded):
            active.setdefault(run["workflow_id"], []).append(run)

    batch = Batch(rows, [], [], [], postponed)
    for spec, row, p in planned:
        launching: list[Occurrence] = []
        room = None if spec.max_runs is None else spec.max_runs - int(row.get("launched") or 0)
        for occ, catchup in p.launches:
            if room is not None and len(launching) >= room:
                break    # max_runs reached: the rest is not launched, the schedule completes
            if spec.overlap != "allow" and not _admit(spec, p, occ, active, batch.cancel):
                if catchup:
                    _catchup_skipped(spec, p)
                continue
            batch.runs.append(time_run(spec, int(row["version"]), occ, now=now,
                                       catchup=catchup, instance=instance))
            launching.append(occ)
        if spec.trigger_type == "schedule" and p.status == "completed" and not launching:
            # Its one occurrence did not launch (overlap): it never fired, so it is missed.
            p.status = "missed"
            p.status_reason = (f"missed: skipped at its time because a previous run was still "
                               f"queued or running (overlap: {spec.overlap})")
        if room is not None and len(launching) >= room:
            p.next, p.status = None, "completed"
            p.status_reason = f"completed: max_runs {spec.max_runs} reached"
        batch.owners.append((spec, row, p, launching))
    return batch


def write(tx: Tx, batch: Batch, now: datetime, report: TickReport) -> None:
    """Launch the batch's runs, record its skips and advance its schedules, inside ``tx``."""
    if batch.cancel:
        tx.request_cancel(batch.cancel, reason="cancelled by a newer occurrence "
                          "(overlap: cancel_previous)", now=now)
        report.cancel_requested.extend(batch.cancel)
    results = {r.fire_key: r for r in launch(tx, batch.runs)}

    skips: list[NewSkip] = []
    advances: list[ScheduleAdvance] = list(batch.postponed)
    for spec, _row, p, launching in batch.owners:
        # None keeps the stored last fire (advance_schedules), so the claim need not read it.
        last_key: str | None = None
        last_at: datetime | None = None
        for occ in launching:
            launched = results[occ.fire_key]
            entry = {"workflow_id": spec.workflow_id, "fire_key": occ.fire_key,
                     "run_id": launched.run_id, "scheduled_for": iso_shared(occ.local)}
            if launched.run_id is None:
                report.duplicates.append(entry)
            else:
                report.launched.append(entry)
            last_key, last_at = occ.fire_key, now
        for group in p.skips:
            skips.append(_skip_rows(spec.workflow_id, group, now))
            _list_skips(report, spec, group)
        if p.status == "completed":
            report.completed.append(spec.workflow_id)
        elif p.status == "missed":
            report.missed.append(spec.workflow_id)
        advances.append(advance_for(spec, p, last_key, last_at, now, len(launching)))
    if skips:
        tx.insert_skips(skips)
    record_missed(tx, batch.owners, now)
    tx.advance_schedules(advances)
    report.schedules += len(batch.rows)


def process(tx: Tx, rows: list[Row], now: datetime, instance: str | None,
            report: TickReport, seen: set[str] | None = None) -> None:
    """Plan, apply overlap, launch, record skips and advance: all inside ``tx``."""
    write(tx, prepare(tx, rows, now, instance, seen), now, report)


def _list_skips(report: TickReport, spec: ScheduleSpec, group: SkipGroup) -> None:
    if len(report.skipped) >= MAX_SKIPS_LISTED:
        return
    first = group.first
    entry: dict[str, Any] = {"workflow_id": spec.workflow_id,
                             "scheduled_for": iso(first.moved_from or first.local),
                             "reason": group.reason, "detail": group.detail}
    if group.count > 1:
        entry["until"] = iso(group.last.local)
        entry["count"] = group.count
    report.skipped.append(entry)


def _catchup_skipped(spec: ScheduleSpec, p: Plan) -> None:
    """The catch-up run the coalesced occurrences were folded into was itself skipped by
    overlap: say so where they are recorded, so that explain tells the truth."""
    for group in p.skips:
        if group.reason == "coalesced" and group.detail and "itself skipped" not in group.detail:
            group.detail += (f"; that catch-up run was itself skipped: a previous run was still "
                             f"queued or running (overlap: {spec.overlap})")


def _admit(spec: ScheduleSpec, p: Plan, occ: Occurrence, active: dict[str, list[Row]],
           cancel: list[int]) -> bool:
    """Apply the overlap policy to an occurrence about to launch: False when it is skipped
    (and recorded so in ``p``); the runs it cancels are added to ``cancel``. ``active`` holds
    the workflow's queued and running runs, and gains the one about to launch."""
    runs = active.setdefault(spec.workflow_id, [])
    decision = _overlap(spec, runs)
    if decision == "skip":
        p.skip("overlap", occ, "a previous run was still queued or running "
               f"(overlap: {spec.overlap})")
        return False
    if decision == "cancel":
        cancel.extend(r["run_id"] for r in runs if r["run_id"] is not None)
        runs[:] = [r for r in runs if r["run_id"] is None]
    runs.append({"run_id": None, "status": "queued", "workflow_id": spec.workflow_id})
    return True


def _overlap(spec: ScheduleSpec, active: list[Row]) -> str:
    """launch | skip | cancel, for an occurrence arriving while ``active`` runs exist."""
    if spec.overlap == "allow" or not active:
        return "launch"
    if spec.overlap == "skip":
        return "skip"
    if spec.overlap == "queue_one":
        return "skip" if any(r["status"] == "queued" for r in active) else "launch"
    return "cancel"


def tick(store: Store, now: datetime, *, instance: str | None = None,
         batch_size: int = DEFAULT_BATCH) -> TickReport:
    """Exactly one pass at ``now``: every schedule due at ``now`` is processed once.

    The due schedules are claimed ``batch_size`` at a time, in (next_fire_at, workflow_id)
    order through a keyset cursor, each batch in one transaction. On a store that allows it
    (:attr:`Store.concurrent_writes`: PostgreSQL) two batches are in flight: while one is
    written and committed, the next is claimed and planned (see :func:`_tick_overlapped`)."""
    now = now.astimezone(UTC)
    report = TickReport(now)
    report.notifications = expectations_for_tick(store, now)
    # Nothing due (the usual case): one index seek, no write transaction, no row locks.
    earliest = store.earliest_due()
    if earliest is None or earliest > now:
        return report
    if store.concurrent_writes:
        _tick_overlapped(store, now, instance, batch_size, report)
    else:
        _tick_serial(store, now, instance, batch_size, report)
    if report.launched or report.skipped:
        log.info("tick at %s: %d launched, %d skipped, %d duplicate", iso_utc(now),
                 len(report.launched), len(report.skipped), len(report.duplicates),
                 extra={"action": "tick.done", "launched": len(report.launched),
                        "skipped": len(report.skipped), "schedules": report.schedules})
    return report


def _tick_serial(store: Store, now: datetime, instance: str | None, batch_size: int,
                 report: TickReport) -> None:
    cursor: tuple[datetime, str] | None = None
    seen: set[str] = set()
    while True:
        with store.transaction() as tx:
            rows = tx.claim_due(now, batch_size, after=cursor)
            if rows:
                process(tx, rows, now, instance, report, seen)
        if len(rows) < batch_size:
            return
        cursor = (rows[-1]["next_fire_at"], rows[-1]["workflow_id"])


def _tick_overlapped(store: Store, now: datetime, instance: str | None, batch_size: int,
                     report: TickReport) -> None:
    """The serial loop with two transactions in flight, on two connections.

    The main thread claims a batch and plans it (CPU: the cron engine, payloads); a helper
    thread then writes it and commits, which mostly waits for the server, while the main
    thread claims and plans the next batch. So the server's work on one batch overlaps
    clockwf's work on the next. Each batch is still one transaction, claimed through the same
    cursor in the same order, and a batch is handed over only once the previous one has
    committed (its report part is merged in order). An error in either thread rolls back the
    transaction it was in and is raised once the other batch is done."""
    cursor: tuple[datetime, str] | None = None
    seen: set[str] = set()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="clockwf-tick") as writer:
        pending: Future[TickReport] | None = None
        while True:
            with ExitStack() as stack:
                tx = stack.enter_context(store.transaction())
                rows = tx.claim_due(now, batch_size, after=cursor)
                if rows:
                    batch = prepare(tx, rows, now, instance, seen)
                    transaction = stack.pop_all()   # ended by _write_and_commit from here on
            if not rows:
                break
            if pending is not None:
                try:
                    report.merge(pending.result())
                except BaseException as exc:
                    transaction.__exit__(type(exc), exc, exc.__traceback__)   # roll back
                    raise
            pending = writer.submit(_write_and_commit, transaction, tx, batch, now)
            if len(rows) < batch_size:
                break
            cursor = (rows[-1]["next_fire_at"], rows[-1]["workflow_id"])
        if pending is not None:
            report.merge(pending.result())
    del report.skipped[MAX_SKIPS_LISTED:]


def _write_and_commit(transaction: ExitStack, tx: Tx, batch: Batch,
                      now: datetime) -> TickReport:
    """Write a planned batch and end its transaction: commit, or roll back on an error."""
    part = TickReport(now)
    with transaction:
        write(tx, batch, now, part)
    return part
