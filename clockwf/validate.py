"""The one validation pipeline: YAML -> models -> semantic checks -> a report with locations.

``clockwf validate`` and ``clockwf publish`` both call :func:`validate_source`, so a file that
validates is a file that publishes (except ``run_at`` in the past, a warning here and an error with
``for_publish=True``). Every finding is an :class:`~clockwf.errors.Diagnostic` naming the file,
the 1-based line and column of the offending value, a dotted field (``steps[1].http.url``) and a
message that says what would be valid. Nothing here reads the clock: ``now`` is passed in.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.resources
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from dateutil.relativedelta import relativedelta
from pydantic import ValidationError

from clockwf import yamlload
from clockwf.cron import CronSchedule, Fire, parse_cron
from clockwf.diagnostics import ErrorMapper, Locator, describe
from clockwf.errors import DefinitionInvalid, Diagnostic
from clockwf.models import (
    ID_PATTERN,
    Calendar,
    Definition,
    RecurringTrigger,
    ScheduleTrigger,
    local_wall,
)
from clockwf.recur import RRuleSchedule
from clockwf.timeutil import format_duration, get_zone, iso
from clockwf.tz import zone_rules
from clockwf.yamlload import PositionMap, YamlPath

NEXT_FIRES = 5
DST_LOOKAHEAD = relativedelta(years=1)


@dataclasses.dataclass
class FileReport:
    """What validation found in one file."""

    path: str
    workflow_id: str | None = None
    errors: list[Diagnostic] = dataclasses.field(default_factory=list)
    warnings: list[Diagnostic] = dataclasses.field(default_factory=list)
    next_fires: list[str] = dataclasses.field(default_factory=list)
    definition: Definition | None = None
    source: str | None = None
    content_hash: str | None = None
    # With for_publish: the "run_at is in the past" error, which publish forgives when the
    # content is unchanged (a one-time job that has fired is republished as it is).
    past_run_at: Diagnostic | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        """The machine form: one entry of ``clockwf validate --format json``."""
        return {
            "path": self.path,
            "ok": self.ok,
            "workflow_id": self.workflow_id,
            "errors": [d.as_dict() for d in self.errors],
            "warnings": [d.as_dict() for d in self.warnings],
            "next_fires": list(self.next_fires),
        }

    def raise_for_errors(self) -> Definition:
        """The definition, or :class:`DefinitionInvalid` with every error."""
        if self.errors or self.definition is None:
            raise DefinitionInvalid(self.errors)
        return self.definition


def validate_path(path: str | Path, now: datetime, *, strict: bool = False,
                  for_publish: bool = False) -> FileReport:
    """Validate a file; a missing or unreadable file is a report with one error."""
    name = str(path)
    try:
        data = yamlload.read_file(path)
    except FileNotFoundError:
        return _unreadable(name, "no such file")
    except IsADirectoryError:
        return _unreadable(name, "is a directory, not a workflow definition file")
    except PermissionError:
        return _unreadable(name, "permission denied")
    except OSError as exc:
        return _unreadable(name, f"cannot be read: {exc.strerror or exc}")
    return validate_source(data, name, now, strict=strict, for_publish=for_publish)


def validate_source(source: bytes | str, path: str, now: datetime, *, strict: bool = False,
                    for_publish: bool = False) -> FileReport:
    """Run every check of a definition file's content.

    ``now`` (aware) anchors the time checks: run_at in the past, DST changes within a year, the
    next fires. ``strict`` turns warnings into errors. ``for_publish`` makes run_at in the past
    an error.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    report = FileReport(path)
    try:
        loaded = yamlload.load(source, path)
    except DefinitionInvalid as exc:
        report.errors = [dataclasses.replace(d, path=path) for d in exc.diagnostics]
        return report
    report.source = loaded.text
    data = loaded.data
    if not isinstance(data, dict):
        got = "an empty file" if data is None else describe(data)
        where = loaded.positions.value(()) or yamlload.Position(1, 1)  # the document's start
        report.errors = [Diagnostic(
            f"a workflow definition is a mapping with at least id and steps; got {got}",
            where.line, where.column, None, path)]
        return report
    problems = _include_calendar(data, loaded.positions, path)
    if problems:
        report.errors = _sorted(problems)
        return report
    ident = data.get("id")
    if isinstance(ident, str) and re.fullmatch(ID_PATTERN, ident):
        report.workflow_id = ident
    try:
        definition = Definition.model_validate(data)
    except ValidationError as exc:
        report.errors = _sorted(ErrorMapper(loaded.positions, path).map(exc.errors()))
        return report
    report.definition = definition
    report.content_hash = content_hash(definition)
    checks = _Checks(definition, loaded.positions, path, now, for_publish)
    checks.run()
    report.errors = _sorted(checks.errors)
    report.warnings = _sorted(checks.warnings)
    report.past_run_at = checks.past_run_at
    report.next_fires = checks.next_fires
    if strict and report.warnings:
        report.errors = _sorted([*report.errors, *report.warnings])
        report.warnings = []
    return report


def _include_calendar(data: dict[str, Any], positions: PositionMap,
                      path: str) -> list[Diagnostic]:
    """Replace ``trigger.calendar: {file: PATH, ...}`` by the calendar file's content (keys
    given beside ``file`` override the file's), so several workflows share one calendar. The
    path is relative to the definition file. Problems in the calendar file name that file."""
    trigger = data.get("trigger")
    calendar = trigger.get("calendar") if isinstance(trigger, dict) else None
    if not isinstance(calendar, dict) or "file" not in calendar:
        return []
    assert isinstance(trigger, dict)
    where: YamlPath = ("trigger", "calendar", "file")
    ref = calendar["file"]
    if not isinstance(ref, str) or not ref.strip():
        return [Locator(positions, path).at("calendar.file is the path of a calendar file "
                                            "(relative to this file)", where)]
    base = Path(path).parent if path not in ("-", "<stdin>") else Path.cwd()
    target = base / ref
    try:
        loaded = yamlload.load(target.read_bytes(), str(target))
    except OSError as exc:
        return [Locator(positions, path).at(
            f"calendar file {str(target)!r} cannot be read: {exc.strerror or exc}", where)]
    except DefinitionInvalid as exc:
        return [dataclasses.replace(d, path=str(target)) for d in exc.diagnostics]
    content = loaded.data
    if not isinstance(content, dict):
        return [Diagnostic("a calendar file is a mapping of holidays, exclude_dates and "
                           "on_excluded", 1, 1, None, str(target))]
    content = {k: v for k, v in content.items() if k != "id"}
    if "file" in content:
        return [Locator(loaded.positions, str(target)).at(
            "a calendar file cannot refer to another calendar file", ("file",), key=True)]
    try:
        Calendar.model_validate(content)
    except ValidationError as exc:
        return ErrorMapper(loaded.positions, str(target), Calendar).map(exc.errors())
    merged = {**content, **{k: v for k, v in calendar.items() if k != "file"}}
    trigger["calendar"] = merged
    return []


def content_hash(definition: Definition) -> str:
    """sha256 of the definition's canonical JSON: equal for the same content, whatever the
    comments, key order, quoting or defaults written out."""
    canonical = json.dumps(definition.model_dump(mode="json"), sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _unreadable(path: str, why: str) -> FileReport:
    return FileReport(path, errors=[Diagnostic(why, None, None, None, path)])


def _sorted(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    unique = list(dict.fromkeys(diagnostics))
    return sorted(unique, key=lambda d: (d.line or 0, d.column or 0))


# -- checks beyond the models ----------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def legacy_zones() -> dict[str, tuple[str, str]]:
    """Legacy zone name -> (name to use instead, note), from ``clockwf/data/legacy_zones.txt``."""
    text = importlib.resources.files("clockwf").joinpath("data/legacy_zones.txt").read_text(
        encoding="utf-8")
    table: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, target, *note = line.split("\t")
            table[name] = (target, note[0] if note else "")
    return table


def _zone_transitions(zone: str, start: datetime, end: datetime) -> list[datetime]:
    """The instants in (start, end] at which the zone's UTC offset changes."""
    rules = zone_rules(zone)
    t, stop = start.timestamp(), end.timestamp()
    found: list[datetime] = []
    while True:
        period = rules.period(t)
        if period.end is None or period.end > stop:
            return found
        found.append(datetime.fromtimestamp(period.end, UTC))
        t = period.end


def _times(fires: Iterable[Fire]) -> tuple[str, bool]:
    """The local wall times of some fires, shortened when many; and whether more than one."""
    times = list(dict.fromkeys(f.local.strftime("%H:%M") for f in fires))
    if len(times) > 3:
        return f"{times[0]} to {times[-1]} ({len(times)} times)", True
    return ", ".join(times), len(times) > 1


class _Checks(Locator):
    """The semantic checks of a definition that the models accept."""

    def __init__(self, definition: Definition, positions: PositionMap, path: str,
                 now: datetime, for_publish: bool) -> None:
        super().__init__(positions, path)
        self.definition = definition
        self.now = now
        self.for_publish = for_publish
        self.past_run_at: Diagnostic | None = None
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.next_fires: list[str] = []

    def warn(self, message: str, path: YamlPath, *, key: bool = False) -> None:
        self.warnings.append(self.at(message, path, key=key))

    def run(self) -> None:
        trigger = self.definition.trigger
        if isinstance(trigger, RecurringTrigger):
            self.recurring(trigger)
        elif isinstance(trigger, ScheduleTrigger):
            self.schedule(trigger)

    def zone_name(self, name: str | None) -> None:
        if name is None or name not in legacy_zones():
            return
        target, note = legacy_zones()[name]
        message = f"{name!r} is a legacy time zone name: use {target!r}"
        message += f" ({note})" if note else " (the same zone under its current name)"
        self.warn(message, ("trigger", "timezone"))

    def schedule(self, trigger: ScheduleTrigger) -> None:
        self.zone_name(trigger.timezone)
        instant = trigger.instant()
        if trigger.timezone is not None:
            instant = instant.astimezone(get_zone(trigger.timezone))
        if instant > self.now:
            self.next_fires = [iso(instant) or ""]
            return
        message = (f"run_at {trigger.run_at} is in the past (now is "
                   f"{iso(self.now.astimezone(instant.tzinfo))})")
        if self.for_publish:
            self.past_run_at = self.at(
                message + ": a one-time schedule must lie in the future when it is published",
                ("trigger", "run_at"))
            self.errors.append(self.past_run_at)
        else:
            self.warn(message + ": it would never fire, and publish refuses it",
                      ("trigger", "run_at"))

    def recurring(self, trigger: RecurringTrigger) -> None:
        self.zone_name(trigger.timezone if "timezone" in trigger.model_fields_set else None)
        schedule: CronSchedule | RRuleSchedule
        if trigger.cron is not None:
            expr = parse_cron(trigger.cron)
            cron_path: YamlPath = ("trigger", "cron")
            if expr.day_or:
                self.warn(f"day-of-month and day-of-week are both restricted, so it fires "
                          f"{expr.describe_days()} (Vixie cron OR rule)", cron_path)
            for message in expr.uneven_steps:
                self.warn(message, cron_path)
            if "dst" in trigger.model_fields_set and not expr.fixed:
                self.warn("dst has no effect on a wildcard job (its minute or hour field starts "
                          "with *): it runs on real elapsed time across DST changes",
                          ("trigger", "dst"), key=True)
            schedule = CronSchedule(expr, trigger.timezone, gap=trigger.dst.gap,
                                    fold=trigger.dst.fold)
            fixed = expr.fixed
        elif trigger.rrule is not None and trigger.dtstart is not None:
            schedule = RRuleSchedule(trigger.rrule, local_wall(trigger.dtstart),
                                     trigger.timezone, gap=trigger.dst.gap,
                                     fold=trigger.dst.fold)
            fixed = schedule.fixed
            if "dst" in trigger.model_fields_set and not fixed:
                self.warn(f"dst has no effect on a FREQ={schedule.freq_name} rule: it runs on "
                          "real elapsed time across DST changes", ("trigger", "dst"), key=True)
        else:
            if "dst" in trigger.model_fields_set:
                self.warn("dst has no effect on every: it counts exact elapsed time",
                          ("trigger", "dst"), key=True)
            self.next_fires = self.spec_fires()
            self.calendar(trigger)
            return
        if trigger.start_at or trigger.end_at or trigger.calendar or trigger.max_runs:
            self.next_fires = self.spec_fires()
        else:
            self.next_fires = [iso(f.at) or "" for f in
                               islice((f for f in schedule.iter_fires(self.now) if f.fires),
                                      NEXT_FIRES)]
        if fixed:
            self.dst_changes(trigger, schedule)
        self.calendar(trigger)

    def spec_fires(self) -> list[str]:
        """The next fires through the planner's view (bounds, calendar, max_runs)."""
        from clockwf.schedule import ScheduleSpec, first_after, following

        spec = ScheduleSpec.from_definition(self.definition)
        assert spec is not None
        out: list[str] = []
        occ = first_after(spec, self.now)
        scanned = 0
        limit = spec.max_runs or NEXT_FIRES
        while occ is not None and len(out) < min(NEXT_FIRES, limit) and scanned < 10_000:
            scanned += 1
            if occ.fires:
                out.append(iso(occ.local) or "")
            occ = following(spec, occ)
        return out

    def calendar(self, trigger: RecurringTrigger) -> None:
        """Warn when the schedule reaches past the years the holiday data covers."""
        cal = trigger.calendar
        if cal is None or cal.holidays is None:
            return
        from clockwf.calendar import holiday_years

        first, last = holiday_years(cal.holidays.country)
        _anchor, _start, end = trigger.instants()
        if trigger.rrule is not None and trigger.dtstart is not None:
            last_wall = RRuleSchedule(trigger.rrule, local_wall(trigger.dtstart),
                                      trigger.timezone).last_wall()
            if last_wall is not None:
                end = min(end, last_wall.replace(tzinfo=UTC)) if end else \
                    last_wall.replace(tzinfo=UTC)
        where: YamlPath = ("trigger", "calendar", "holidays")
        source = f"the holidays data for {cal.holidays.country} covers {first} to {last}"
        if end is not None and end.year > last:
            self.warn(f"the schedule runs until {end.year}, but {source}: later holidays "
                      "are not excluded", where)
        elif end is None and self.now.year + 1 >= last:
            self.warn(f"the schedule has no end, but {source}: holidays after {last} are "
                      "not excluded (set end_at, or update the holidays package)", where)
        if self.now.year < first:
            self.warn(f"{source}: holidays before {first} are not excluded", where)

    def dst_changes(self, trigger: RecurringTrigger,
                    schedule: CronSchedule | RRuleSchedule) -> None:
        """Warn about each DST change within a year at which a fixed-time job shifts, is
        skipped or meets a repeated hour."""
        zone = trigger.timezone
        margin = timedelta(hours=26)
        path: YamlPath = ("trigger", trigger.kind)
        for change in _zone_transitions(zone, self.now, self.now + DST_LOOKAHEAD):
            odd: list[Fire] = []
            for fire in schedule.iter_fires(max(self.now, change - margin),
                                            include_skipped=True):
                if fire.at > change + margin:
                    break
                if fire.kind != "normal":
                    odd.append(fire)
            for message in _dst_messages(odd, trigger, change):
                self.warn(message, path)


def _dst_messages(fires: list[Fire], trigger: RecurringTrigger, change: datetime) -> list[str]:
    zone = trigger.timezone
    tz = get_zone(zone)
    out: list[str] = []
    shifted = [f for f in fires if f.kind == "gap_shifted"]
    skipped = [f for f in fires if f.kind == "gap_skipped"]
    lost = [f for f in fires if f.kind == "gap_lost"]
    folded = [f for f in fires if f.kind in ("fold_first", "fold_second")]
    for group, what in ((shifted, "shifted"), (skipped, "skipped")):
        if not group:
            continue
        times, plural = _times(group)
        head = (f"on {group[0].local.date().isoformat()} {times} "
                f"{'do' if plural else 'does'} not exist in {zone}")
        if what == "shifted":
            at = group[0].at.astimezone(tz).strftime("%H:%M %Z")
            out.append(f"{head}; {'they fire' if plural else 'it fires'} at {at} "
                       f"(dst.gap: run_after)")
        else:
            out.append(f"{head}; {'they are' if plural else 'it is'} skipped that day "
                       f"(dst.gap: skip)")
    if lost:
        before = change - timedelta(seconds=1)
        jump = (change.astimezone(tz).utcoffset() or timedelta(0)) - (
            before.astimezone(tz).utcoffset() or timedelta(0))
        out.append(f"on {lost[0].local.date().isoformat()} the clocks of {zone} jump ahead "
                   f"{format_duration(jump)} (a clock correction, not a DST change), so "
                   f"{_times(lost)[0]} never happens that day and the occurrence is lost")
    if folded:
        times, plural = _times(folded)
        first = folded[0].local.replace(tzinfo=tz, fold=0).strftime("%Z")
        second = folded[0].local.replace(tzinfo=tz, fold=1).strftime("%Z")
        at = "" if plural else f"{times} "
        head = (f"on {folded[0].local.date().isoformat()} {times} "
                f"{'happen' if plural else 'happens'} twice")
        if trigger.dst.fold == "twice":
            out.append(f"{head}; {'they fire' if plural else 'it fires'} in both passes "
                       f"({at}{first} and {at}{second}) (dst.fold: twice)")
        else:
            out.append(f"{head}; {'they fire' if plural else 'it fires'} once, in the first "
                       f"pass ({at}{first}) (dst.fold: once)")
    return out
