"""The one validation pipeline: YAML -> models -> semantic checks -> a report with locations.

``clockwf validate`` and ``clockwf publish`` both call :func:`validate_source`, so a file that
validates is a file that publishes (except ``run_at`` in the past, a warning here and an error with
``for_publish=True``). Every finding is an :class:`~clockwf.errors.Diagnostic` naming the file,
the 1-based line and column of the offending value, a dotted field (``steps[1].http.url``) and a
message that says what would be valid. Nothing here reads the clock: ``now`` is passed in.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import importlib.resources
import json
import re
import types
import typing
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from dateutil.relativedelta import relativedelta
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from clockwf import yamlload
from clockwf.cron import CronExpr, CronSchedule, Fire, parse_cron
from clockwf.errors import DefinitionInvalid, Diagnostic
from clockwf.models import (
    EVENT_PATTERN,
    ID_PATTERN,
    STEP_ID_PATTERN,
    TRIGGER_TYPES,
    Definition,
    FieldProblem,
    RecurringTrigger,
    ScheduleTrigger,
)
from clockwf.timeutil import format_duration, get_zone, iso
from clockwf.tz import zone_rules
from clockwf.yamlload import PositionMap, YamlPath, format_path

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
        got = "an empty file" if data is None else _describe(data)
        where = loaded.positions.value(()) or yamlload.Position(1, 1)  # the document's start
        report.errors = [Diagnostic(
            f"a workflow definition is a mapping with at least id and steps; got {got}",
            where.line, where.column, None, path)]
        return report
    ident = data.get("id")
    if isinstance(ident, str) and re.fullmatch(ID_PATTERN, ident):
        report.workflow_id = ident
    try:
        definition = Definition.model_validate(data)
    except ValidationError as exc:
        report.errors = _sorted(_ErrorMapper(loaded.positions, path).map(exc.errors()))
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


# -- pydantic errors -> diagnostics ----------------------------------------------------------


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "nothing (null)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "true or false",
    "float_type": "a number",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list (- item)",
}

_PATTERNS = {
    ID_PATTERN: "lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, "
                "at most 128 characters",
    STEP_ID_PATTERN: "lower-case letters, digits, '.', '_' and '-', starting with a letter or "
                     "digit, at most 64 characters",
    EVENT_PATTERN: "letters, digits, '.', '_', ':', '/' and '-', starting with a letter or "
                   "digit, at most 128 characters",
}


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional from a type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _variants(tp: Any) -> list[type[BaseModel]]:
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return []
    return [a for a in map(_unwrap, typing.get_args(tp)) if _is_model(a)]


def _literal_values(tp: Any) -> tuple[Any, ...]:
    tp = _unwrap(tp)
    return typing.get_args(tp) if typing.get_origin(tp) is Literal else ()


def _tag_of(model: type[BaseModel]) -> str | None:
    values = _literal_values(model.model_fields["type"].annotation) \
        if "type" in model.model_fields else ()
    return values[0] if len(values) == 1 else None


def _child(tp: Any, part: str | int) -> Any:
    tp = _unwrap(tp)
    if _is_model(tp) and isinstance(part, str):
        field = tp.model_fields.get(part)
        return field.annotation if field is not None else None
    origin = typing.get_origin(tp)
    if origin is list and isinstance(part, int):
        return typing.get_args(tp)[0]
    if origin is dict:
        return typing.get_args(tp)[1]
    return None


@dataclasses.dataclass
class _Loc:
    """A pydantic loc made into a path of the file, with the types met along it."""

    path: YamlPath
    types: list[Any]  # types[i]: the type of the value at path[:i]
    dict_key: bool = False

    @property
    def type(self) -> Any:
        return _unwrap(self.types[-1])

    @property
    def parent_type(self) -> Any:
        return _unwrap(self.types[-2]) if len(self.types) > 1 else None


def _resolve(loc: Sequence[str | int]) -> _Loc:
    """Strip discriminator tags (``('trigger', 'recurring', 'cron')`` -> ``trigger.cron``)."""
    path: list[str | int] = []
    seen: list[Any] = [Definition]
    dict_key = False
    for part in loc:
        if part == "[key]":
            dict_key = True
            continue
        current = _unwrap(seen[-1])
        variant = next((v for v in _variants(current) if _tag_of(v) == part), None)
        if variant is not None:
            seen[-1] = variant
            continue
        path.append(part)
        seen.append(_child(current, part))
    return _Loc(tuple(path), seen, dict_key)


def _union_tags(tp: Any) -> list[str]:
    tags = [t for t in map(_tag_of, _variants(_unwrap(tp))) if t is not None]
    return [t for t in TRIGGER_TYPES if t in tags] + [t for t in tags if t not in TRIGGER_TYPES]


_CUTOFF = 0.6


def _close(word: Any, options: Iterable[str]) -> str:
    if not isinstance(word, str):
        return ""
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=_CUTOFF)
    return f"; did you mean {match[0]!r}?" if match else ""


class _Locator:
    """Makes diagnostics that point into one file."""

    def __init__(self, positions: PositionMap, path: str) -> None:
        self.positions = positions
        self.path = path

    def at(self, message: str, path: YamlPath, *, key: bool = False,
           field: YamlPath | None = None, char: tuple[str, int] | None = None) -> Diagnostic:
        """A diagnostic at the value of ``path`` (its key with ``key=True``), or at its nearest
        ancestor in the file; ``field`` names the field when it is not ``path``; ``char``
        (the string value, an index) points at one character of the value."""
        found = self.positions.nearest(path)
        line = column = None
        if found is not None:
            found_path, where = found
            pos = where.key or where.value if key and found_path == path else where.value
            if char is not None and found_path == path:
                pos = self.positions.char(path, *char) or pos
            line, column = pos.line, pos.column
        return Diagnostic(message, line, column, format_path(path if field is None else field),
                          self.path)


class _ErrorMapper(_Locator):
    """Turns pydantic errors into diagnostics with positions and human messages."""

    def map(self, errors: Sequence[ErrorDetails]) -> list[Diagnostic]:
        # A misspelt key ('crn', did you mean 'cron'?) also makes 'cron' missing: say it once.
        meant: set[YamlPath] = set()
        for error in errors:
            if error["type"] == "extra_forbidden":
                loc = _resolve(error["loc"])
                if _is_model(loc.parent_type):
                    match = difflib.get_close_matches(str(loc.path[-1]),
                                                      list(loc.parent_type.model_fields),
                                                      n=1, cutoff=_CUTOFF)
                    meant.update((*loc.path[:-1], m) for m in match)
        return [self.one(error) for error in errors
                if not (error["type"] == "missing" and _resolve(error["loc"]).path in meant)]

    def one(self, error: ErrorDetails) -> Diagnostic:
        kind = error["type"]
        loc = _resolve(error["loc"])
        ctx = error.get("ctx") or {}
        value = error.get("input")
        if kind == "value_error" and isinstance(ctx.get("error"), FieldProblem):
            problem: FieldProblem = ctx["error"]
            char = (value, problem.offset) if problem.offset is not None and not problem.loc \
                and isinstance(value, str) else None
            return self.at(problem.message, loc.path + tuple(problem.loc), char=char)
        if kind == "extra_forbidden":
            name = loc.path[-1]
            valid = list(loc.parent_type.model_fields) if _is_model(loc.parent_type) else []
            message = f"unknown key {name!r}"
            if valid:
                message += f" (valid keys: {', '.join(valid)}{_close(name, valid)})"
            return self.at(message, loc.path, key=True)
        if kind == "missing":
            return self.at(self.missing(loc), loc.path[:-1], key=True, field=loc.path)
        if kind == "union_tag_invalid":
            tags = _union_tags(loc.type)
            message = f"trigger type must be one of {', '.join(tags)}; got {ctx.get('tag')!r}"
            if ctx.get("tag") == "manual":
                message += " (leave trigger out for a workflow that is started only by hand)"
            else:
                message += _close(ctx.get("tag"), tags)
            return self.at(message, (*loc.path, "type"))
        if kind == "union_tag_not_found":
            tags = _union_tags(loc.type)
            return self.at(f"missing required field 'type' (trigger type must be one of "
                           f"{', '.join(tags)})", loc.path, key=True, field=(*loc.path, "type"))
        if kind == "literal_error":
            options = [str(v) for v in _literal_values(loc.type)]
            message = f"must be one of {', '.join(options)}; got {value!r}{_close(value, options)}"
            return self.at(message, loc.path)
        if kind in _EXPECTED:
            return self.at(self.wrong_type(_EXPECTED[kind], value, loc), loc.path,
                           key=loc.dict_key)
        if kind == "string_pattern_mismatch":
            pattern = str(ctx.get("pattern"))
            what = _PATTERNS.get(pattern, f"match {pattern}")
            return self.at(f"must be {what}; got {value!r}", loc.path)
        if kind == "too_short":
            least = ctx.get("min_length", 1)
            if loc.path == ("steps",):
                message = "a workflow needs at least one step (a list of run: or http: steps)"
            else:
                message = f"needs at least {least} item{'s' if least != 1 else ''}"
            return self.at(message, loc.path)
        if kind == "string_too_short":
            return self.at("must not be empty", loc.path)
        if kind in ("greater_than_equal", "greater_than"):
            bound = ctx.get("ge", ctx.get("gt"))
            return self.at(f"must be at least {bound}; got {value!r}", loc.path)
        if kind in ("less_than_equal", "less_than"):
            bound = ctx.get("le", ctx.get("lt"))
            return self.at(f"must be at most {bound}; got {value!r}", loc.path)
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        return self.at(message, loc.path)

    @staticmethod
    def missing(loc: _Loc) -> str:
        name = loc.path[-1]
        parent = loc.parent_type
        message = f"missing required field {name!r}"
        if _is_model(parent) and isinstance(name, str) and name in parent.model_fields:
            examples = parent.model_fields[name].examples
            if examples:
                message += f" (for example {name}: {json.dumps(examples[0])})"
        return message

    @staticmethod
    def wrong_type(expected: str, value: Any, loc: _Loc) -> str:
        if loc.dict_key:
            return f"keys must be strings, got {_describe(value)}"
        message = f"expected {expected}, got {_describe(value)}"
        if expected == "a string":
            if isinstance(value, bool):
                message += " (YAML reads yes, no, on, off, true and false as booleans: quote it)"
            elif isinstance(value, int | float):
                message += " (quote it)"
            elif value is None:
                message += " (write a value or leave the key out)"
        elif expected == "an integer" and isinstance(value, str) and value.strip().isdigit():
            message += " (write it without quotes)"
        return message


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


class _Checks(_Locator):
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
        expr = parse_cron(trigger.cron)
        cron_path: YamlPath = ("trigger", "cron")
        if expr.day_or:
            self.warn(f"day-of-month and day-of-week are both restricted, so it fires "
                      f"{expr.describe_days()} (Vixie cron OR rule)", cron_path)
        for message in expr.uneven_steps:
            self.warn(message, cron_path)
        if "dst" in trigger.model_fields_set and not expr.fixed:
            self.warn("dst has no effect on a wildcard job (its minute or hour field starts "
                      "with *): it runs on real elapsed time across DST changes", ("trigger",
                                                                                    "dst"),
                      key=True)
        schedule = CronSchedule(expr, trigger.timezone, gap=trigger.dst.gap,
                                fold=trigger.dst.fold)
        self.next_fires = [iso(f.at) or "" for f in
                           islice((f for f in schedule.iter_fires(self.now) if f.fires),
                                  NEXT_FIRES)]
        if expr.fixed:
            self.dst_changes(trigger, expr, schedule)

    def dst_changes(self, trigger: RecurringTrigger, expr: CronExpr,
                    schedule: CronSchedule) -> None:
        """Warn about each DST change within a year at which a fixed-time job shifts, is
        skipped or meets a repeated hour."""
        zone = trigger.timezone
        margin = timedelta(hours=26)
        for change in _zone_transitions(zone, self.now, self.now + DST_LOOKAHEAD):
            odd: list[Fire] = []
            for fire in schedule.iter_fires(max(self.now, change - margin),
                                            include_skipped=True):
                if fire.at > change + margin:
                    break
                if fire.kind != "normal":
                    odd.append(fire)
            for message in _dst_messages(odd, trigger, change):
                self.warn(message, ("trigger", "cron"))


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
