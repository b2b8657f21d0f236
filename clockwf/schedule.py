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
import json
import operator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

from clockwf.cron import CronSchedule, Fire, FireKind
from clockwf.models import Definition, RecurringTrigger, ScheduleTrigger, local_wall
from clockwf.timeutil import (
    fire_key_instant,
    format_duration,
    iso,
    offset_zone_name,
    zone_or_offset,
)

SkipReason = Literal["coalesced", "outside_window", "missed", "paused", "overlap", "dst_skip",
                     "excluded"]
SKIP_REASONS: tuple[str, ...] = ("coalesced", "outside_window", "missed", "paused", "overlap",
                                 "dst_skip", "excluded")
SKIP_REASON_TEXT = {
    "coalesced": "coalesced into a later catch-up run (catchup: latest)",
    "outside_window": "missed while no daemon ran, and older than catchup_window",
    "missed": "missed while no daemon ran (catchup: none)",
    "paused": "the workflow was paused",
    "overlap": "a previous run was still queued or running (policy.overlap)",
    "dst_skip": "its local time did not exist (DST gap)",
    "excluded": "its day is excluded by the trigger's calendar (calendar.on_excluded: skip)",
}

if TYPE_CHECKING:
    from collections.abc import Iterator

    from clockwf.calendar import BusinessCalendar

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
    # Beyond cron (the schedule row's trigger_spec JSON; all None for a plain cron schedule):
    rrule: str | None = None
    dtstart: datetime | None = None          # naive local wall time
    every_s: int | None = None
    anchor: datetime | None = None           # UTC
    start_at: datetime | None = None         # UTC
    end_at: datetime | None = None           # UTC
    max_runs: int | None = None
    calendar: str | None = None              # canonical JSON of the trigger's calendar

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
            anchor, start_at, end_at = trigger.instants()
            return cls(trigger_type="recurring", cron=trigger.cron, timezone=trigger.timezone,
                       dst_gap=trigger.dst.gap, dst_fold=trigger.dst.fold,
                       jitter_s=trigger.jitter.total_seconds(), rrule=trigger.rrule,
                       dtstart=local_wall(trigger.dtstart) if trigger.dtstart else None,
                       every_s=int(trigger.every.total_seconds()) if trigger.every else None,
                       anchor=_utc(anchor), start_at=_utc(start_at), end_at=_utc(end_at),
                       max_runs=trigger.max_runs,
                       calendar=json.dumps(trigger.calendar.model_dump(mode="json"),
                                           sort_keys=True, separators=(",", ":"))
                       if trigger.calendar else None, **common)
        if isinstance(trigger, ScheduleTrigger):
            instant = trigger.instant()
            return cls(trigger_type="schedule", run_at=instant.astimezone(UTC),
                       timezone=trigger.timezone or offset_zone_name(
                           instant.utcoffset() or timedelta(0)),
                       jitter_s=trigger.jitter.total_seconds(), **common)
        return None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ScheduleSpec:
        """The spec a schedule row holds. Specs are immutable and a row's spec is a function
        of its definition columns alone, so rows with the same columns share one spec (and its
        parsed engine and label): a tick asks for the spec of every schedule it claims, the
        same schedules tick after tick."""
        key = (*_spec_columns(row), row.get("trigger_spec"))
        spec = _SPECS.get(key)
        if spec is None:
            spec = cls._build_from_row(row)
            if len(_SPECS) >= _SPECS_SIZE:
                _SPECS.clear()    # bounded; the specs asked again are rebuilt once
            _SPECS[key] = spec
        return spec

    @classmethod
    def _build_from_row(cls, row: dict[str, Any]) -> ScheduleSpec:
        extra = row.get("trigger_spec")
        return cls(
            workflow_id=row["workflow_id"], trigger_type=row["trigger_type"],
            timezone=row["timezone"], cron=row["cron"], run_at=row["run_at"],
            dst_gap=row["dst_gap"], dst_fold=row["dst_fold"], jitter_s=float(row["jitter_s"]),
            catchup=row["catchup"], catchup_window_s=float(row["catchup_window_s"]),
            grace_s=float(row["grace_s"]), max_catchup=int(row["max_catchup"]),
            overlap=row["overlap"], **(_trigger_spec(extra) if extra else _NO_EXTRA),
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
            "trigger_spec": self.trigger_spec(),
        }

    def trigger_spec(self) -> str | None:
        """The schedule row's ``trigger_spec``: what cron's columns cannot hold (JSON)."""
        parts: dict[str, Any] = {
            "rrule": self.rrule, "dtstart": self.dtstart.isoformat() if self.dtstart else None,
            "every_s": self.every_s, "anchor": _text(self.anchor),
            "start_at": _text(self.start_at), "end_at": _text(self.end_at),
            "max_runs": self.max_runs,
            "calendar": json.loads(self.calendar) if self.calendar else None,
        }
        present = {k: v for k, v in parts.items() if v is not None}
        return json.dumps(present, sort_keys=True, separators=(",", ":")) if present else None

    @property
    def special(self) -> bool:
        """Bounds or a calendar: the occurrences go through :func:`_bounded` / the calendar.
        (A plain property: a cached one takes a lock, and the tick asks it for every fire.)"""
        return self.start_at is not None or self.end_at is not None or \
            self.calendar is not None

    @cached_property
    def business(self) -> BusinessCalendar | None:
        if self.calendar is None:
            return None
        from clockwf.calendar import BusinessCalendar

        return BusinessCalendar(json.loads(self.calendar))

    @property
    def kind(self) -> str:
        return "rrule" if self.rrule is not None else "every" if self.every_s is not None \
            else "cron"

    def completion_reason(self) -> str:
        """Why a recurring schedule has no next occurrence."""
        if self.end_at is not None:
            return f"completed: end_at {iso(self.end_at.astimezone(zone_or_offset(self.timezone)))} reached"
        if self.rrule is not None:
            return "completed: the rrule has no further occurrence (COUNT or UNTIL)"
        return "completed: no occurrence left"

    def same_trigger(self, other: ScheduleSpec) -> bool:
        """Whether the two fire at the same instants (policy changes do not count)."""
        return (self.trigger_type, self.cron, self.timezone, self.run_at, self.dst_gap,
                self.dst_fold, self.jitter_s, self.trigger_spec()) == (
            other.trigger_type, other.cron, other.timezone, other.run_at, other.dst_gap,
            other.dst_fold, other.jitter_s, other.trigger_spec())

    @cached_property
    def engine(self) -> Engine:
        if self.cron is not None:
            return _engine(self.cron, self.timezone, self.dst_gap, self.dst_fold)
        if self.rrule is not None and self.dtstart is not None:
            return _rrule_engine(self.rrule, self.dtstart, self.timezone, self.dst_gap,
                                 self.dst_fold)
        if self.every_s is not None and self.anchor is not None:
            from clockwf.recur import EverySchedule

            return EverySchedule(self.every_s, self.anchor, self.timezone)
        raise ValueError("a one-time schedule has no recurrence engine")

    @cached_property
    def label(self) -> str:
        """``recurring 02:30 America/New_York`` / ``one-time 2027-01-15 09:00 -05:00``."""
        if self.trigger_type == "recurring" and self.rrule is not None:
            return f"recurring rrule {self.rrule} {self.timezone}"
        if self.trigger_type == "recurring" and self.every_s is not None:
            return f"recurring every {format_duration(self.every_s)} {self.timezone}"
        if self.trigger_type == "recurring":
            assert isinstance(self.engine, CronSchedule)
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


class Engine(Protocol):
    """What the planner asks a recurrence engine (cron, rrule, every)."""

    def after(self, at: datetime, *, inclusive: bool = False,
              include_skipped: bool = False) -> Fire | None: ...

    def fire_at(self, at: datetime) -> Fire | None: ...

    def iter_fires(self, after: datetime, *,
                   include_skipped: bool = False) -> Iterator[Fire]: ...


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _text(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


_NO_EXTRA: dict[str, Any] = {}

# ScheduleSpec.from_row's shared specs, keyed by the definition columns of a schedule row.
_spec_columns = operator.itemgetter(
    "workflow_id", "trigger_type", "timezone", "cron", "run_at", "dst_gap", "dst_fold",
    "jitter_s", "catchup", "catchup_window_s", "grace_s", "max_catchup", "overlap")
_SPECS: dict[tuple[Any, ...], ScheduleSpec] = {}
_SPECS_SIZE = 1 << 16


def _trigger_spec(raw: str | None) -> dict[str, Any]:
    """ScheduleSpec fields from a schedule row's trigger_spec JSON."""
    if not raw:
        return {}
    data = json.loads(raw)
    out: dict[str, Any] = {}
    for name in ("rrule", "every_s", "max_runs"):
        if data.get(name) is not None:
            out[name] = data[name]
    if data.get("dtstart"):
        out["dtstart"] = datetime.fromisoformat(data["dtstart"])
    for name in ("anchor", "start_at", "end_at"):
        if data.get(name):
            out[name] = datetime.fromisoformat(data[name]).astimezone(UTC)
    if data.get("calendar") is not None:
        out["calendar"] = json.dumps(data["calendar"], sort_keys=True, separators=(",", ":"))
    return out


@functools.lru_cache(maxsize=1024)
def _rrule_engine(rule: str, dtstart: datetime, timezone: str,
                  gap: Literal["run_after", "skip"], fold: Literal["once", "twice"]) -> Engine:
    from clockwf.recur import RRuleSchedule

    return RRuleSchedule(rule, dtstart, timezone, gap=gap, fold=fold)


@functools.lru_cache(maxsize=4096)
def _engine(cron: str, timezone: str, gap: Literal["run_after", "skip"],
            fold: Literal["once", "twice"]) -> CronSchedule:
    """Schedules sharing an expression share one parsed engine (it is immutable)."""
    return CronSchedule(cron, timezone, gap=gap, fold=fold)


class Occurrence(NamedTuple):
    """One occurrence of a schedule: when it is (nominal), when it is due (+ jitter), its key.

    ``nominal`` is the instant of the fire key. An occurrence moved by the calendar keeps it,
    and runs at ``local`` (the business day's time), with ``moved_from`` its nominal local
    time. ``cal`` says what the calendar did: None, ``moved``, ``excluded`` (not launched) or
    ``merged`` (moved onto an instant that has its own occurrence: coalesced into it).

    (A named tuple: a tick builds two for every schedule it fires, the one it launches and the
    next one, and a frozen dataclass costs several times more to construct.)"""

    workflow_id: str
    trigger_type: str
    nominal: datetime           # UTC; a gap shift's first instant after the gap
    local: datetime             # when it runs, in the schedule's zone
    kind: FireKind
    note: str | None
    fire_key: str
    due: datetime               # UTC: when it runs + jitter
    jitter_s: float
    cal: str | None = None
    moved_from: datetime | None = None

    @property
    def fires(self) -> bool:
        return self.kind not in ("gap_skipped", "gap_lost") and (
            self.cal is None or self.cal == "moved")

    @property
    def skip_reason(self) -> SkipReason:
        """The reason recorded for an occurrence that does not fire."""
        if self.cal == "excluded":
            return "excluded"
        if self.cal == "merged":
            return "coalesced"
        return "dst_skip"

    @property
    def dst(self) -> str | None:
        """The DST adjustment applied, for provenance."""
        return None if self.kind == "normal" else self.kind


# _fire_utc's cache: id(Fire) -> (that Fire, its UTC instant, the fire key's instant text).
_FIRE_UTC: dict[int, tuple[Fire, datetime, str]] = {}
_FIRE_UTC_SIZE = 4096


def _fire_utc(fire: Fire) -> tuple[datetime, str]:
    """A fire's UTC instant and its fire-key text, cached by identity: the cron engine memoises
    its fires, so the schedules sharing an expression and zone share one Fire per instant."""
    hit = _FIRE_UTC.get(id(fire))
    if hit is not None and hit[0] is fire:
        return hit[1], hit[2]
    nominal = fire.at.astimezone(UTC)
    text = fire_key_instant(nominal)
    if len(_FIRE_UTC) >= _FIRE_UTC_SIZE:
        _FIRE_UTC.clear()
    _FIRE_UTC[id(fire)] = (fire, nominal, text)
    return nominal, text


def _occurrence(spec: ScheduleSpec, fire: Fire) -> Occurrence:
    nominal, instant = _fire_utc(fire)
    key = f"{spec.trigger_type}:{spec.workflow_id}:{instant}"   # as fire_key() writes it
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
    if spec.special:
        return _bounded(spec, _special_after(spec, after))
    for fire in spec.engine.iter_fires(after, include_skipped=True):
        return _occurrence(spec, fire)
    return None


def following(spec: ScheduleSpec, occ: Occurrence) -> Occurrence | None:
    """The occurrence after ``occ`` (skipped ones included)."""
    if spec.trigger_type == "schedule":
        return None
    if spec.special:
        return _bounded(spec, _special_after(spec, occ.local, _order(occ)))
    # A skipped occurrence sits at the first instant after its gap, and a regular occurrence
    # at that same instant still comes after it.
    nxt = spec.engine.after(occ.local, inclusive=not occ.fires, include_skipped=True)
    return None if nxt is None else _occurrence(spec, nxt)


def _base_fire(spec: ScheduleSpec, nominal: datetime, kind: str | None) -> Fire | None:
    """The engine's occurrence at ``nominal`` of ``kind``."""
    skipped = kind in ("gap_skipped", "gap_lost")
    engine = spec.engine
    if kind in (None, "normal"):
        # The common case needs no search: a normal occurrence is its own instant.
        fire = engine.fire_at(nominal)
        if fire is not None:
            return fire
    for fire in engine.iter_fires(nominal - timedelta(microseconds=1),
                                  include_skipped=skipped):
        if fire.at.astimezone(UTC) != nominal:
            return None
        if skipped and fire.fires:
            return None
        return fire
    return None


def occurrence_at(spec: ScheduleSpec, nominal: datetime, kind: str | None) -> Occurrence | None:
    """Rebuild the occurrence a schedule row points at (``next_nominal_at``, ``next_kind``)."""
    if spec.trigger_type == "schedule":
        occ = one_time_occurrence(spec)
        return occ if occ.nominal == nominal else None
    fire = _base_fire(spec, nominal, kind)
    if fire is None:
        return None
    if spec.special:
        occ = _resolve(spec, fire) if spec.business is not None else _occurrence(spec, fire)
        return _bounded(spec, occ)
    return _occurrence(spec, fire)


# -- bounds and calendars ----------------------------------------------------------------------

def _bounded(spec: ScheduleSpec, occ: Occurrence | None) -> Occurrence | None:
    """None for an occurrence past ``end_at`` (the schedule then completes)."""
    if occ is None or spec.end_at is None or occ.local <= spec.end_at:
        return occ
    return None


def _order(occ: Occurrence) -> tuple[datetime, int, datetime]:
    """Occurrences are ordered by when they run; at one instant a skipped one comes first."""
    return (occ.local.astimezone(UTC), 1 if occ.fires else 0, occ.nominal)


def _special_after(spec: ScheduleSpec, after: datetime,
                   floor: tuple[datetime, int, datetime] | None = None) -> Occurrence | None:
    """The first occurrence ordered after ``floor`` (or running after ``after``), with
    ``start_at`` and the calendar applied."""
    after = after.astimezone(UTC)
    if spec.start_at is not None and after < spec.start_at:
        after = spec.start_at - timedelta(microseconds=1)
        floor = None
    if floor is None:
        floor = (after, 2, after)
    if spec.business is None:
        if floor[1] == 2:
            fire = spec.engine.after(after, include_skipped=True)
        else:   # as in :func:`following`
            fire = spec.engine.after(after, inclusive=floor[1] == 0, include_skipped=True)
        return None if fire is None else _occurrence(spec, fire)
    return _calendar_after(spec, after, floor)


def _calendar_after(spec: ScheduleSpec, after: datetime,
                    floor: tuple[datetime, int, datetime]) -> Occurrence | None:
    """The first occurrence ordered after ``floor`` for a schedule with a calendar.

    Unmoved occurrences run at their nominal instant, so they come in engine order, and the
    scan stops at the first one after ``floor``. A moved one can come from up to
    MAX_MOVE_DAYS away (either side): those are found from the excluded days around."""
    from clockwf.calendar import MAX_MOVE_DAYS

    cal = spec.business
    assert cal is not None
    engine = spec.engine
    best: Occurrence | None = None
    horizon = after + timedelta(days=MAX_MOVE_DAYS + 1)
    for fire in engine.iter_fires(after - timedelta(microseconds=1), include_skipped=True):
        occ = _resolve(spec, fire)
        if _order(occ) > floor and (best is None or _order(occ) < _order(best)):
            best = occ
        if occ.cal not in ("moved", "merged") and _order(occ) > floor:
            break
        if fire.at > horizon:
            break
    if cal.on_excluded == "skip":
        return best
    zone = zone_or_offset(spec.timezone)
    first = after.astimezone(zone).date() - timedelta(days=MAX_MOVE_DAYS + 1)
    last = (best.local if best is not None else horizon.astimezone(zone)).date() + \
        timedelta(days=MAX_MOVE_DAYS + 1)
    for day in cal.excluded_between(first, last):
        for fire in _fires_on(spec, day):
            occ = _resolve(spec, fire)
            if occ.cal in ("moved", "merged") and _order(occ) > floor and (
                    best is None or _order(occ) < _order(best)):
                best = occ
    return best


def _fires_on(spec: ScheduleSpec, day: date) -> list[Fire]:
    """The engine's firing occurrences whose local wall date is ``day``."""
    zone = zone_or_offset(spec.timezone)
    start = datetime.combine(day, datetime.min.time()).replace(tzinfo=zone) - timedelta(hours=4)
    out = []
    for fire in spec.engine.iter_fires(start):
        wall_day = fire.local.date()
        if wall_day > day:
            break
        if wall_day == day:
            out.append(fire)
    return out


def _place(spec: ScheduleSpec, wall: datetime) -> datetime:
    """The instant of a local wall time: in a gap, the first instant after it; in a repeated
    hour, the first pass."""
    from clockwf.tz import zone_rules

    zone = zone_or_offset(spec.timezone)
    first = wall.replace(tzinfo=zone, fold=0)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall:
        return first
    rules = zone_rules(spec.timezone)
    t = first.astimezone(UTC).timestamp()
    period = rules.period(t)
    start = period.start if period.start is not None else t
    return datetime.fromtimestamp(start, zone)


def _has_wall(spec: ScheduleSpec, wall: datetime) -> bool:
    """Whether the engine fires at the local wall time ``wall``."""
    at = _place(spec, wall)
    fire = spec.engine.after(at - timedelta(hours=4))
    while fire is not None and fire.local <= wall:
        if fire.local == wall:
            return True
        fire = spec.engine.after(fire.at)
    return False


def _resolve(spec: ScheduleSpec, fire: Fire) -> Occurrence:
    """The occurrence of an engine fire once the calendar has looked at its local date."""
    base = _occurrence(spec, fire)
    cal = spec.business
    if cal is None or not fire.fires:
        return base
    day = fire.local.date()
    why = cal.reason(day)
    if why is None:
        return base
    target = cal.target(day)
    if target is None:
        note = f"excluded: {why}" if cal.on_excluded == "skip" else (
            f"excluded: {why}; no business day within reach ({cal.on_excluded})")
        return base._replace(cal="excluded", note=note)
    time_of_day = fire.local.time()
    at = _place(spec, datetime.combine(target, time_of_day))
    utc_at = at.astimezone(UTC)
    moved = f"moved from {day.isoformat()} ({why})"
    merged_into: str | None = None
    own = spec.engine.after(at, inclusive=True)
    if own is not None and own.at == at:
        merged_into = f"merged into the occurrence already at {iso(at)}"
    else:
        for back in range(1, 15):
            source = day - timedelta(days=back)
            if cal.reason(source) is not None and cal.target(source) == target and \
                    _has_wall(spec, datetime.combine(source, time_of_day)):
                merged_into = ("merged into the occurrence moved there from "
                               f"{source.isoformat()}")
                break
    jitter = jitter_for(base.fire_key, spec.jitter_s) if spec.jitter_s else 0.0
    if merged_into is not None:
        return base._replace(local=at, due=utc_at, jitter_s=0.0, cal="merged",
                             moved_from=fire.at,
                             note=f"{moved} to {at:%Y-%m-%d %H:%M}, {merged_into}")
    return base._replace(local=at, due=utc_at + timedelta(seconds=jitter), jitter_s=jitter,
                         cal="moved", moved_from=fire.at, note=moved)


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
            result.skip(occ.skip_reason, occ, occ.note)
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
    _apply_catchup(result, policy, due, [now - o.due <= grace for o in due], cut_short)
    return result


def _apply_catchup(result: Plan, policy: str, due: list[Occurrence], on_time: list[bool],
                   cut_short: bool) -> None:
    """The catch-up policy (docs/design.md §6.2) over the firing occurrences due, in order:
    which launch (and which of them as a catch-up) and which are recorded as skipped."""
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
    if spec.special:
        return _special_between(spec, start, end, include_skipped, limit)
    for fire in spec.engine.iter_fires(start - timedelta(microseconds=1),
                                       include_skipped=include_skipped):
        if fire.at > end or len(out) >= limit:
            break
        out.append(_occurrence(spec, fire))
    return out


def _special_between(spec: ScheduleSpec, start: datetime, end: datetime, include_skipped: bool,
                     limit: int) -> list[Occurrence]:
    """:func:`occurrences_between` with bounds or a calendar: by nominal instant (the fire
    key), so a moved occurrence is found at the day it was moved from."""
    from clockwf.calendar import MAX_MOVE_DAYS

    reach = timedelta(days=MAX_MOVE_DAYS + 1) if spec.business is not None else timedelta(0)
    out: list[Occurrence] = []
    occ = first_after(spec, start - reach - timedelta(microseconds=1))
    scanned = 0
    while occ is not None and occ.local <= end + reach and len(out) < limit \
            and scanned < MAX_SCAN:
        scanned += 1
        if start <= occ.nominal <= end and (include_skipped or occ.fires):
            out.append(occ)
        occ = following(spec, occ)
    return out
