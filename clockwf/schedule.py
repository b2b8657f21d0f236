"""Which occurrences of a schedule are due at an instant, and what to do with each (pure).

Given a schedule's specification and its first unprocessed occurrence, :func:`plan` decides, for
the instant ``now``, which occurrences launch, which are recorded as skipped (with a reason), and
which occurrence comes next. It applies the catch-up policy (docs/design.md §6.2), the DST choice (through
the cron engine) and jitter. Overlap (docs/design.md §6.3) needs the store and is applied by the tick.

Nothing here reads the clock or the store.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Literal, NamedTuple

from clockwf.cron import CronSchedule, Fire, FireKind
from clockwf.models import Definition, RecurringTrigger, ScheduleTrigger
from clockwf.timeutil import (
    fire_key_instant,
    format_duration,
    iso,
    offset_zone_name,
    zone_or_offset,
)

SkipReason = Literal["coalesced", "outside_window", "missed", "paused", "overlap", "dst_skip"]
SKIP_REASONS: tuple[str, ...] = ("coalesced", "outside_window", "missed", "paused", "overlap",
                                 "dst_skip")
SKIP_REASON_TEXT = {
    "coalesced": "coalesced into a later catch-up run (catchup: latest)",
    "outside_window": "missed while no daemon ran, and older than catchup_window",
    "missed": "missed while no daemon ran (catchup: none)",
    "paused": "the workflow was paused",
    "overlap": "a previous run was still queued or running (policy.overlap)",
    "dst_skip": "its local time did not exist (DST gap)",
}

# Bounds on the work one plan does for one schedule (a minutely job missed for a year).
MAX_SCAN = 100_000
MAX_COUNTED_OUTSIDE = 10_000


def fire_key(trigger_type: str, workflow_id: str, nominal: datetime) -> str:
    """``recurring:<id>:<UTC instant>`` / ``schedule:<id>:<UTC instant>`` (docs/design.md §3; :mod:`clockwf.firekeys`)."""
    return f"{trigger_type}:{workflow_id}:{fire_key_instant(nominal)}"


def jitter_for(key: str, jitter_s: float) -> float:
    """A deterministic delay in [0, jitter_s] seconds (millisecond steps) from the fire key, so
    every daemon computes the same due time for an occurrence."""
    if jitter_s <= 0:
        return 0.0
    digest = hashlib.sha256(key.encode()).digest()
    return (int.from_bytes(digest[:8], "big") % (int(jitter_s * 1000) + 1)) / 1000


@dataclass(frozen=True)
class ScheduleSpec:
    """What a schedule row (or a definition) says about when and how to fire."""

    workflow_id: str
    trigger_type: Literal["schedule", "recurring"]
    timezone: str
    cron: str | None = None
    run_at: datetime | None = None
    dst_gap: Literal["run_after", "skip"] = "run_after"
    dst_fold: Literal["once", "twice"] = "once"
    jitter_s: float = 0.0
    catchup: Literal["latest", "all", "none"] = "latest"
    catchup_window_s: float = 86400.0
    grace_s: float = 60.0
    max_catchup: int = 100
    overlap: Literal["allow", "skip", "queue_one", "cancel_previous"] = "allow"

    @classmethod
    def from_definition(cls, definition: Definition) -> ScheduleSpec | None:
        trigger = definition.trigger
        policy = definition.policy
        common: dict[str, Any] = dict(
            workflow_id=definition.id,
            catchup=policy.catchup,
            catchup_window_s=policy.catchup_window.total_seconds(),
            grace_s=policy.grace.total_seconds(),
            max_catchup=policy.max_catchup,
            overlap=policy.overlap,
        )
        if isinstance(trigger, RecurringTrigger):
            return cls(trigger_type="recurring", cron=trigger.cron, timezone=trigger.timezone,
                       dst_gap=trigger.dst.gap, dst_fold=trigger.dst.fold,
                       jitter_s=trigger.jitter.total_seconds(), **common)
        if isinstance(trigger, ScheduleTrigger):
            instant = trigger.instant()
            return cls(trigger_type="schedule", run_at=instant.astimezone(UTC),
                       timezone=trigger.timezone or offset_zone_name(
                           instant.utcoffset() or timedelta(0)),
                       jitter_s=trigger.jitter.total_seconds(), **common)
        return None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ScheduleSpec:
        return cls(
            workflow_id=row["workflow_id"], trigger_type=row["trigger_type"],
            timezone=row["timezone"], cron=row["cron"], run_at=row["run_at"],
            dst_gap=row["dst_gap"], dst_fold=row["dst_fold"], jitter_s=float(row["jitter_s"]),
            catchup=row["catchup"], catchup_window_s=float(row["catchup_window_s"]),
            grace_s=float(row["grace_s"]), max_catchup=int(row["max_catchup"]),
            overlap=row["overlap"],
        )

    def row_fields(self) -> dict[str, Any]:
        """The schedule-row columns that come from the definition."""
        return {
            "workflow_id": self.workflow_id, "trigger_type": self.trigger_type,
            "cron": self.cron, "timezone": self.timezone, "run_at": self.run_at,
            "dst_gap": self.dst_gap, "dst_fold": self.dst_fold,
            "jitter_s": round(self.jitter_s), "catchup": self.catchup,
            "catchup_window_s": int(self.catchup_window_s), "grace_s": int(self.grace_s),
            "max_catchup": self.max_catchup, "overlap": self.overlap,
        }

    def same_trigger(self, other: ScheduleSpec) -> bool:
        """Whether the two fire at the same instants (policy changes do not count)."""
        return (self.trigger_type, self.cron, self.timezone, self.run_at, self.dst_gap,
                self.dst_fold, self.jitter_s) == (
            other.trigger_type, other.cron, other.timezone, other.run_at, other.dst_gap,
            other.dst_fold, other.jitter_s)

    @cached_property
    def engine(self) -> CronSchedule:
        if self.cron is None:
            raise ValueError("a one-time schedule has no cron engine")
        return _engine(self.cron, self.timezone, self.dst_gap, self.dst_fold)

    @property
    def label(self) -> str:
        """``recurring 02:30 America/New_York`` / ``one-time 2027-01-15 09:00 -05:00``."""
        if self.trigger_type == "recurring":
            expr = self.engine.expr
            minutes, hours = expr.fields[0], expr.fields[1]
            if expr.fixed and minutes.isdigit() and hours.isdigit() and \
                    expr.fields[2:] == ("*", "*", "*"):
                when = f"{int(hours):02d}:{int(minutes):02d}"
            else:
                when = expr.macro or expr.text.strip()
            return f"recurring {when} {self.timezone}"
        assert self.run_at is not None
        local = self.run_at.astimezone(zone_or_offset(self.timezone))
        return f"one-time {local:%Y-%m-%d %H:%M} {self.timezone}"


@functools.lru_cache(maxsize=4096)
def _engine(cron: str, timezone: str, gap: Literal["run_after", "skip"],
            fold: Literal["once", "twice"]) -> CronSchedule:
    """Schedules sharing an expression share one parsed engine (it is immutable)."""
    return CronSchedule(cron, timezone, gap=gap, fold=fold)


class Occurrence(NamedTuple):
    """One occurrence of a schedule: when it is (nominal), when it is due (+ jitter), its key.

    (A named tuple: a tick builds two for every schedule it fires, the one it launches and the
    next one, and a frozen dataclass costs several times more to construct.)"""

    workflow_id: str
    trigger_type: str
    nominal: datetime           # UTC; a gap shift's first instant after the gap
    local: datetime             # the same instant in the schedule's zone
    kind: FireKind
    note: str | None
    fire_key: str
    due: datetime               # UTC: nominal + jitter
    jitter_s: float

    @property
    def fires(self) -> bool:
        return self.kind not in ("gap_skipped", "gap_lost")

    @property
    def dst(self) -> str | None:
        """The DST adjustment applied, for provenance."""
        return None if self.kind == "normal" else self.kind


def _occurrence(spec: ScheduleSpec, fire: Fire) -> Occurrence:
    nominal = fire.at.astimezone(UTC)
    key = fire_key(spec.trigger_type, spec.workflow_id, nominal)
    if spec.jitter_s and fire.fires:
        jitter = jitter_for(key, spec.jitter_s)
        return Occurrence(spec.workflow_id, spec.trigger_type, nominal, fire.at, fire.kind,
                          fire.note, key, nominal + timedelta(seconds=jitter), jitter)
    return Occurrence(spec.workflow_id, spec.trigger_type, nominal, fire.at, fire.kind,
                      fire.note, key, nominal, 0.0)


def one_time_occurrence(spec: ScheduleSpec) -> Occurrence:
    assert spec.run_at is not None
    nominal = spec.run_at.astimezone(UTC)
    key = fire_key("schedule", spec.workflow_id, nominal)
    jitter = jitter_for(key, spec.jitter_s)
    local = nominal.astimezone(zone_or_offset(spec.timezone))
    return Occurrence(spec.workflow_id, "schedule", nominal, local, "normal", None, key,
                      nominal + timedelta(seconds=jitter), jitter)


def first_after(spec: ScheduleSpec, after: datetime) -> Occurrence | None:
    """The first occurrence strictly after ``after`` (skipped ones included): where a new or
    resumed schedule starts. For a one-time schedule, its occurrence if it lies after."""
    if spec.trigger_type == "schedule":
        occ = one_time_occurrence(spec)
        return occ if occ.nominal > after else None
    for fire in spec.engine.iter_fires(after, include_skipped=True):
        return _occurrence(spec, fire)
    return None


def following(spec: ScheduleSpec, occ: Occurrence) -> Occurrence | None:
    """The occurrence after ``occ`` (skipped ones included)."""
    if spec.trigger_type == "schedule":
        return None
    # A skipped occurrence sits at the first instant after its gap, and a regular occurrence
    # at that same instant still comes after it.
    nxt = spec.engine.after(occ.local, inclusive=not occ.fires, include_skipped=True)
    return None if nxt is None else _occurrence(spec, nxt)


def occurrence_at(spec: ScheduleSpec, nominal: datetime, kind: str | None) -> Occurrence | None:
    """Rebuild the occurrence a schedule row points at (``next_nominal_at``, ``next_kind``)."""
    if spec.trigger_type == "schedule":
        occ = one_time_occurrence(spec)
        return occ if occ.nominal == nominal else None
    skipped = kind in ("gap_skipped", "gap_lost")
    engine = spec.engine
    if kind in (None, "normal"):
        # The common case needs no search: a normal occurrence is its own instant.
        fire = engine.fire_at(nominal)
        if fire is not None:
            return _occurrence(spec, fire)
    for fire in engine.iter_fires(nominal - timedelta(microseconds=1),
                                  include_skipped=skipped):
        if fire.at.astimezone(UTC) != nominal:
            return None
        if skipped and fire.fires:
            return None
        return _occurrence(spec, fire)
    return None


@dataclass
class SkipGroup:
    """Consecutive occurrences skipped for the same reason (one store row)."""

    reason: SkipReason
    first: Occurrence
    last: Occurrence
    count: int
    detail: str | None


@dataclass
class Plan:
    launches: list[tuple[Occurrence, bool]] = field(default_factory=list)  # (occ, catch-up?)
    skips: list[SkipGroup] = field(default_factory=list)
    next: Occurrence | None = None
    status: Literal["scheduled", "completed", "missed"] = "scheduled"
    status_reason: str | None = None

    def skip(self, reason: SkipReason, occ: Occurrence, detail: str | None = None) -> None:
        last = self.skips[-1] if self.skips else None
        if last is not None and last.reason == reason and last.detail == detail:
            last.last = occ
            last.count += 1
        else:
            self.skips.append(SkipGroup(reason, occ, occ, 1, detail))


def _late(seconds: float) -> str:
    return format_duration(timedelta(seconds=int(seconds))) if seconds >= 1 else "under 1s"


def plan(spec: ScheduleSpec, first: Occurrence | None, now: datetime) -> Plan:
    """Decide the fate of every occurrence due at ``now``, starting at ``first``."""
    if first is None:
        return Plan(next=None)
    if spec.trigger_type == "schedule":
        return _plan_one_time(spec, first, now)
    if first.fires and first.due <= now <= first.due + timedelta(seconds=spec.grace_s):
        # The common case, decided without the walk: the occurrence is on time and the next
        # one is not due yet. Every policy launches it, as the walk would (a test checks it).
        nxt = following(spec, first)
        if nxt is None or nxt.due > now:
            return Plan(launches=[(first, False)], next=nxt)
    return _walk(spec, first, now)


def _walk(spec: ScheduleSpec, first: Occurrence, now: datetime) -> Plan:
    """:func:`plan` for a recurring schedule, in general: walk the occurrences due at ``now``
    and apply the catch-up policy."""
    result = Plan(next=first)
    grace = timedelta(seconds=spec.grace_s)
    window = timedelta(seconds=spec.catchup_window_s)
    window_start = now - window
    policy = spec.catchup

    due: list[Occurrence] = []
    occ: Occurrence | None = first
    scanned = 0
    outside_counted = 0
    outside_detail: str | None = None
    while occ is not None and occ.due <= now and scanned < MAX_SCAN:
        if policy == "all" and len(due) >= spec.max_catchup:
            break   # the rest waits for the next tick (at most max_catchup per tick)
        scanned += 1
        if not occ.fires:
            result.skip("dst_skip", occ, occ.note)
        elif policy != "none" and occ.due < window_start and now - occ.due > grace:
            outside_counted += 1
            if outside_detail is None:
                outside_detail = ("missed while no daemon ran; older than catchup_window "
                                  f"{format_duration(window)}")
            result.skip("outside_window", occ, outside_detail)
            if outside_counted == MAX_COUNTED_OUTSIDE:
                # Jump to the window: the rest before it is not counted one by one.
                result.skips[-1].detail = (f"{outside_detail} (at least {outside_counted} "
                                           "occurrences; not all counted)")
                occ = first_after(spec, window_start - timedelta(seconds=spec.jitter_s + 1))
                while occ is not None and occ.fires and occ.due < window_start:
                    occ = following(spec, occ)
                continue
        else:
            due.append(occ)
        occ = following(spec, occ)
    result.next = occ
    # The scan stopped at MAX_SCAN with more due after it: the latest is yet to be seen.
    cut_short = occ is not None and occ.due <= now and scanned >= MAX_SCAN

    on_time = [now - o.due <= grace for o in due]
    if policy == "none":
        for o, timely in zip(due, on_time, strict=True):
            if timely:
                result.launches.append((o, False))
            else:
                result.skip("missed", o, "missed while no daemon ran (catchup: none)")
    elif policy == "latest":
        # Launch what is on time; if nothing is, the most recent late occurrence catches up
        # for all of them. Every other late occurrence is coalesced into that run.
        target: Occurrence | None = None
        if cut_short:
            target = None        # the next tick goes on to the most recent one
        elif not any(on_time) and due:
            target = due[-1]
        else:
            target = next((o for o, t in zip(due, on_time, strict=True) if t), None)
        detail = ("coalesced into the run of "
                  f"{iso(target.local) if target is not None else 'a later occurrence'}")
        for o, timely in zip(due, on_time, strict=True):
            if timely:
                result.launches.append((o, False))
            elif o is target:
                result.launches.append((o, True))
            else:
                result.skip("coalesced", o, detail)
    else:
        for o, timely in zip(due, on_time, strict=True):
            result.launches.append((o, not timely))
    return result


def _plan_one_time(spec: ScheduleSpec, occ: Occurrence, now: datetime) -> Plan:
    result = Plan(next=occ)
    if occ.due > now:
        return result
    lateness = now - occ.due
    result.next = None
    if lateness <= timedelta(seconds=spec.grace_s):
        result.launches.append((occ, False))
        result.status = "completed"
        return result
    late = _late(lateness.total_seconds())
    if spec.catchup == "none":
        reason = f"missed: no daemon ran at {iso(occ.local)} (late by {late}; catchup: none)"
        result.skip("missed", occ, reason)
        result.status, result.status_reason = "missed", reason
    elif lateness > timedelta(seconds=spec.catchup_window_s):
        window = format_duration(timedelta(seconds=spec.catchup_window_s))
        reason = (f"missed: no daemon ran at {iso(occ.local)}, and {late} late is beyond "
                  f"catchup_window {window}")
        result.skip("outside_window", occ, reason)
        result.status, result.status_reason = "missed", reason
    else:
        result.launches.append((occ, True))
        result.status = "completed"
    return result


def occurrences_between(spec: ScheduleSpec, start: datetime, end: datetime, *,
                        include_skipped: bool = False,
                        limit: int = MAX_SCAN) -> list[Occurrence]:
    """Occurrences with start <= nominal <= end, in order (bounded by ``limit``)."""
    out: list[Occurrence] = []
    if spec.trigger_type == "schedule":
        occ = one_time_occurrence(spec)
        return [occ] if start <= occ.nominal <= end else []
    for fire in spec.engine.iter_fires(start - timedelta(microseconds=1),
                                       include_skipped=include_skipped):
        if fire.at > end or len(out) >= limit:
            break
        out.append(_occurrence(spec, fire))
    return out
