"""The definition file format and the time-trigger payload.

These pydantic models are the single source of the format: they validate files and they generate
the JSON Schema that ``clockwf schema`` prints. Checks that need a location inside the file raise
:class:`FieldProblem`, which carries the path of the offending value so that diagnostics can name
its line and column. Checks that depend on the clock (run_at in the past) or only warn live in
:mod:`clockwf.validate`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from clockwf.errors import ClockwfError
from clockwf.timeutil import DURATION_HELP, format_duration, get_zone, parse_duration

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,127}$"
STEP_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
EVENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"
ENV_REF_RE = re.compile(r"\$\{env:([^}]*)\}")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

TriggerType = Literal["manual", "event", "schedule", "recurring"]
TRIGGER_TYPES: tuple[str, ...] = ("manual", "event", "schedule", "recurring")
PAYLOAD_SCHEMA = "WorkflowClockTrigger.v1"
# run_at must lie in [MIN, MAX) (UTC years): far enough for anyone, and with room for jitter and
# windows (at most ten years) before datetime arithmetic would overflow at year 1 or 9999.
MIN_RUN_AT_YEAR = 1900
MAX_RUN_AT_YEAR = 9000


class FieldProblem(ValueError):
    """A validation failure that knows which value (relative to the model) is wrong."""

    def __init__(self, message: str, loc: tuple[str | int, ...] = (), *,
                 offset: int | None = None, missing: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.offset = offset    # the offending character's index in the string value, if one
        self.missing = missing    # the value at ``loc`` is absent: point at its parent's key


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise FieldProblem(f"expected {DURATION_HELP}, got {value!r}")
    try:
        return parse_duration(value)
    except ClockwfError as exc:
        raise FieldProblem(exc.message) from None


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string",
                 "pattern": r"^(?:0|(?:[0-9]+d)?(?:[0-9]+h)?(?:[0-9]+m)?(?:[0-9]+s)?)$",
                 "minLength": 1},
                {"const": 0},
            ],
            "description": "A duration: 90s, 10m, 1h30m, 2d.",
            "examples": ["90s", "10m", "1h30m", "2d"],
        }
    ),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True,
                              populate_by_name=False, validate_default=True)


class DstPolicy(_Model):
    """What a fixed-time job does when its local time is skipped or repeated."""

    gap: Literal["run_after", "skip"] = Field(
        "run_after",
        description="run_after: fire once at the first instant after the gap; "
        "skip: do not fire that day.",
    )
    fold: Literal["once", "twice"] = Field(
        "once", description="once: fire in the first pass of a repeated hour; twice: in both."
    )


def _check_zone(value: str) -> str:
    try:
        get_zone(value)
    except ClockwfError as exc:
        raise FieldProblem(exc.message) from None
    return value


def _instant_text(text: str, timezone: str | None, field: str) -> datetime:
    """An ISO 8601 instant with an offset, or a local time read in ``timezone``."""
    from clockwf.timeutil import localize

    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise FieldProblem(f"{field} {text!r} is not an ISO 8601 date-time such as "
                           "2027-03-01T00:00:00+01:00", (field,)) from None
    if dt.tzinfo is None:
        if timezone is None:
            raise FieldProblem(f"{field} {text!r} has no UTC offset: add one or set "
                               "trigger.timezone", (field,))
        try:
            dt = localize(dt, get_zone(timezone), what=field)
        except ClockwfError as exc:
            raise FieldProblem(exc.message, (field,)) from None
    if not MIN_RUN_AT_YEAR <= dt.astimezone(UTC).year < MAX_RUN_AT_YEAR:
        raise FieldProblem(f"{field} {text!r} is out of range: clockwf takes dates from the "
                           f"year {MIN_RUN_AT_YEAR} to the year {MAX_RUN_AT_YEAR - 1}", (field,))
    return dt


def local_wall(text: str, field: str = "dtstart") -> datetime:
    """A local wall time without offset (``2027-01-01T17:00``; a date means 00:00)."""
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise FieldProblem(f"{field} {text!r} is not a local date-time such as "
                           "2027-01-01T17:00", (field,)) from None
    if dt.tzinfo is not None:
        raise FieldProblem(f"{field} {text!r} has a UTC offset; write the local wall time in "
                           f"trigger.timezone (such as 2027-01-01T17:00)", (field,))
    if dt.second or dt.microsecond:
        raise FieldProblem(f"{field} {text!r}: clockwf fires on whole minutes; drop the "
                           "seconds", (field,))
    if not MIN_RUN_AT_YEAR <= dt.year < MAX_RUN_AT_YEAR:
        raise FieldProblem(f"{field} {text!r} is out of range", (field,))
    return dt


DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class HolidaySource(_Model):
    """Public holidays of a country (and subdivision), from the ``holidays`` package."""

    country: str = Field(description="ISO 3166-1 alpha-2 code.", examples=["DE"])
    subdiv: str | None = Field(None, description="Subdivision code (state, province).",
                               examples=["BY"])
    language: str | None = Field(None, description="Language of holiday names (default: the "
                                 "country's own).", examples=["en_US"])

    @model_validator(mode="after")
    def _known(self) -> HolidaySource:
        from clockwf.calendar import check_holidays

        problem = check_holidays(self.country, self.subdiv, self.language)
        if problem is not None:
            raise FieldProblem(problem[0], problem[1])
        return self


class Calendar(_Model):
    """Days on which a recurring trigger does not fire, and what happens to it then."""

    file: str | None = Field(None, description="A calendar file shared by several workflows "
                             "(path relative to this file); keys given here override its own. "
                             "Replaced by its content when the definition is validated.",
                             examples=["calendars/bavaria.yaml"])
    holidays: HolidaySource | None = None
    exclude_dates: list[str] = Field(default_factory=list, description="Local dates "
                                     "(YYYY-MM-DD) excluded besides the holidays.",
                                     examples=[["2027-12-24", "2027-12-31"]])
    on_excluded: Literal["skip", "next_business_day", "previous_business_day"] = Field(
        "skip", description="skip: not launched (recorded, reason excluded); "
        "next_business_day / previous_business_day: moved to the same local time on the "
        "nearest weekday that is not excluded, under the original fire key.")

    @field_validator("exclude_dates")
    @classmethod
    def _dates(cls, value: list[str]) -> list[str]:
        for index, text in enumerate(value):
            try:
                if not DATE_RE.match(text):
                    raise ValueError
                date.fromisoformat(text)
            except ValueError:
                raise FieldProblem(f"{text!r} is not a date such as 2027-12-24",
                                   (index,)) from None
        return value

    @model_validator(mode="after")
    def _something(self) -> Calendar:
        if self.holidays is None and not self.exclude_dates:
            raise FieldProblem("a calendar needs holidays, exclude_dates or both")
        return self


class RecurringTrigger(_Model):
    """Fires at every occurrence of a cron expression, an RFC 5545 rule or a fixed interval, in
    a time zone, within optional bounds and outside the days of an optional calendar."""

    type: Literal["recurring"]
    cron: str | None = Field(None, description="Five cron fields (minute hour day-of-month "
                             "month day-of-week) or a macro such as @daily.",
                             examples=["30 2 * * *"])
    rrule: str | None = Field(None, description="An RFC 5545 recurrence rule (FREQ MINUTELY to "
                              "YEARLY), expanded in local wall time from dtstart.",
                              examples=["FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"])
    dtstart: str | None = Field(None, description="With rrule: the local wall time in "
                                "timezone the rule starts at; its time of day is the rule's.",
                                examples=["2027-01-01T17:00"])
    every: Duration | None = Field(None, description="Exact elapsed time between occurrences "
                                   "(at least 1m), from anchor, unmoved by DST.")
    anchor: str | None = Field(None, description="With every: the first occurrence, an "
                               "instant with an offset or a local time in timezone.",
                               examples=["2027-01-04T09:00:00+01:00"])
    timezone: str = Field("UTC", description="IANA time zone name.",
                          examples=["America/New_York"])
    jitter: Duration = Field(timedelta(0), description="Delay each fire by a deterministic "
                             "0..jitter derived from its fire key.")
    dst: DstPolicy = Field(default_factory=DstPolicy)
    start_at: str | None = Field(None, description="No occurrence before this instant.",
                                 examples=["2027-03-01T00:00:00+01:00"])
    end_at: str | None = Field(None, description="No occurrence after this instant; then the "
                               "schedule is completed.", examples=["2027-06-30T23:59:59+02:00"])
    max_runs: int | None = Field(None, ge=1, description="Completed once this many "
                                 "occurrences were launched.")
    calendar: Calendar | None = None

    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["cron"]}, {"required": ["rrule"]}, {"required": ["every"]}]})

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        from clockwf.cron import parse_cron

        if value is None:
            return value
        try:
            parse_cron(value)
        except ClockwfError as exc:
            column = getattr(exc, "column", None)
            raise FieldProblem(exc.message,
                               offset=None if column is None else column - 1) from None
        return value

    _tz = field_validator("timezone")(_check_zone)

    @property
    def kind(self) -> Literal["cron", "rrule", "every"]:
        return "rrule" if self.rrule is not None else "every" if self.every is not None \
            else "cron"

    @model_validator(mode="after")
    def _one_kind(self) -> RecurringTrigger:
        given = [name for name in ("cron", "rrule", "every") if getattr(self, name) is not None]
        if not given:
            raise FieldProblem("missing required field 'cron' (or rrule, or every; for "
                               'example cron: "30 2 * * *")', ("cron",), missing=True)
        if len(given) > 1:
            raise FieldProblem(f"a recurring trigger takes exactly one of cron, rrule or every; "
                               f"got {' and '.join(given)}", (given[-1],))
        if self.dtstart is not None and self.rrule is None:
            raise FieldProblem("dtstart goes with rrule (cron and every have no start)",
                               ("dtstart",))
        if self.anchor is not None and self.every is None:
            raise FieldProblem("anchor goes with every", ("anchor",))
        if self.rrule is not None:
            self._check_rrule()
        if self.every is not None:
            if self.every < timedelta(minutes=1) or self.every.microseconds:
                raise FieldProblem(f"every {format_duration(self.every)} is too short: the "
                                   "shortest interval is 1m", ("every",))
            if self.anchor is None:
                raise FieldProblem("every needs an anchor: the instant the intervals count "
                                   "from, such as 2027-01-04T09:00:00+01:00", ("every",))
            _instant_text(self.anchor, self.timezone, "anchor")
        start = _instant_text(self.start_at, self.timezone, "start_at") if self.start_at \
            else None
        end = _instant_text(self.end_at, self.timezone, "end_at") if self.end_at else None
        if start is not None and end is not None and end <= start:
            raise FieldProblem(f"end_at {self.end_at} is not after start_at {self.start_at}",
                               ("end_at",))
        return self._jitter_below_interval()

    def _check_rrule(self) -> None:
        from clockwf.recur import RRuleSchedule

        if self.dtstart is None:
            raise FieldProblem("rrule needs dtstart: the local wall time the rule starts at, "
                               "such as 2027-01-01T17:00", ("rrule",))
        wall = local_wall(self.dtstart)
        try:
            schedule = RRuleSchedule(self.rrule or "", wall, self.timezone)
        except ClockwfError as exc:
            raise FieldProblem(exc.message, ("rrule",)) from None
        if schedule.never_fires():
            raise FieldProblem(f"rrule {self.rrule!r} never fires (no occurrence within 30 "
                               f"years of dtstart {self.dtstart})", ("rrule",))

    def instants(self) -> tuple[datetime | None, datetime | None, datetime | None]:
        """(anchor, start_at, end_at) as aware instants (None when not set)."""
        return (_instant_text(self.anchor, self.timezone, "anchor") if self.anchor else None,
                _instant_text(self.start_at, self.timezone, "start_at") if self.start_at
                else None,
                _instant_text(self.end_at, self.timezone, "end_at") if self.end_at else None)

    def min_interval(self) -> timedelta | None:
        """The shortest interval between occurrences (None when it cannot be said)."""
        from clockwf.cron import parse_cron
        from clockwf.recur import RRuleSchedule

        try:
            if self.cron is not None:
                return parse_cron(self.cron).min_interval()
            if self.every is not None:
                return self.every
            if self.rrule is not None and self.dtstart is not None:
                return RRuleSchedule(self.rrule, local_wall(self.dtstart),
                                     self.timezone).min_interval()
        except (ClockwfError, FieldProblem):
            return None
        return None

    def _jitter_below_interval(self) -> RecurringTrigger:
        # A jitter as long as the interval would let an occurrence fall due after the next one
        # (and be judged late while the daemon runs).
        if self.jitter:
            interval = self.min_interval()
            if interval is None:
                return self
            what = repr(self.cron) if self.cron else repr(self.rrule) if self.rrule \
                else f"every {format_duration(self.every or timedelta(0))}"
            if self.jitter >= interval:
                raise FieldProblem(
                    f"jitter {format_duration(self.jitter)} is not shorter than the shortest "
                    f"interval between occurrences of {what} "
                    f"({format_duration(interval)}): occurrences would fall due out of order; "
                    f"use a jitter under {format_duration(interval)}", ("jitter",))
        return self


class ScheduleTrigger(_Model):
    """Fires once, at ``run_at``."""

    type: Literal["schedule"]
    run_at: str = Field(description="ISO 8601 date-time with an offset, or a local time with "
                        "timezone.", examples=["2027-01-15T09:00:00-05:00"])
    timezone: str | None = Field(None, description="IANA zone for a run_at without offset.")
    jitter: Duration = Field(timedelta(0))

    _tz = field_validator("timezone")(lambda v: v if v is None else _check_zone(v))

    @model_validator(mode="after")
    def _run_at(self) -> ScheduleTrigger:
        self.instant()
        return self

    def instant(self) -> datetime:
        """The one instant this trigger names (aware)."""
        try:
            dt = self._instant()
            year = dt.astimezone(UTC).year
        except OverflowError:  # 0001-01-01T00:00+05:00 or 9999-12-31T23:00-05:00 in UTC
            year = 0
        if not MIN_RUN_AT_YEAR <= year < MAX_RUN_AT_YEAR:
            raise FieldProblem(
                f"run_at {self.run_at!r} is out of range: clockwf takes dates from the year "
                f"{MIN_RUN_AT_YEAR} to the year {MAX_RUN_AT_YEAR - 1}", ("run_at",))
        return dt

    def _instant(self) -> datetime:
        from clockwf.timeutil import localize

        text = self.run_at.strip()
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise FieldProblem(
                f"run_at {self.run_at!r} is not an ISO 8601 date-time such as "
                "2027-01-15T09:00:00-05:00", ("run_at",)) from None
        if dt.tzinfo is None:
            if self.timezone is None:
                raise FieldProblem(
                    f"run_at {self.run_at!r} has no UTC offset: add one "
                    "(2027-01-15T09:00:00-05:00) or set trigger.timezone", ("run_at",))
            try:
                return localize(dt, get_zone(self.timezone), what="run_at")
            except ClockwfError as exc:
                raise FieldProblem(exc.message, ("run_at",)) from None
        if self.timezone is not None:
            zone_dt = dt.astimezone(get_zone(self.timezone))
            if zone_dt.utcoffset() != dt.utcoffset():
                raise FieldProblem(
                    f"run_at {self.run_at!r} has offset {dt.strftime('%z')} but "
                    f"{self.timezone} is at {zone_dt.strftime('%z')} at that instant",
                    ("run_at",))
        return dt

    @property
    def zone_name(self) -> str:
        """The zone local times are shown in: ``timezone``, else the offset as given."""
        return self.timezone or "UTC"


class EventTrigger(_Model):
    """Started by ``clockwf emit EVENT``."""

    type: Literal["event"]
    event: str = Field(pattern=EVENT_PATTERN, examples=["invoice.created"])


Trigger = Annotated[
    RecurringTrigger | ScheduleTrigger | EventTrigger, Field(discriminator="type")
]


def _check_env_refs(text: str, loc: tuple[str | int, ...]) -> None:
    for match in ENV_REF_RE.finditer(text):
        if not ENV_NAME_RE.match(match.group(1)):
            raise FieldProblem(
                f"{match.group(0)!r} is not a valid reference: write ${{env:NAME}} with NAME "
                "made of letters, digits and _", loc)
    if text.count("${env:") != len(ENV_REF_RE.findall(text)):
        raise FieldProblem("unterminated ${env:...} reference: write ${env:NAME}", loc)


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


class HttpSpec(_Model):
    """An HTTP request; the run's payload is sent as the JSON body."""

    url: str = Field(min_length=1, examples=["https://hooks.example.com/report"])
    method: Annotated[
        Literal["GET", "POST", "PUT", "PATCH", "DELETE"], BeforeValidator(_upper)
    ] = "POST"
    timeout: Duration = Field(timedelta(seconds=30))
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        _check_env_refs(value, ())
        probe = ENV_REF_RE.sub("x", value)
        if not re.match(r"^https?://[^\s/]+", probe):
            raise FieldProblem(f"url {value!r} must start with http:// or https:// and a host")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not re.match(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", name):
                raise FieldProblem(f"{name!r} is not a valid HTTP header name", (name,))
            if "\n" in text or "\r" in text:
                raise FieldProblem("header values cannot contain line breaks", (name,))
            _check_env_refs(text, (name,))
        return value


class Step(_Model):
    """One step: a shell command (``run``) or an HTTP request (``http``)."""

    id: str | None = Field(None, pattern=STEP_ID_PATTERN,
                           description="Defaults to step-<n> (1-based).")
    run: str | None = Field(None, min_length=1, description="Shell command, run by /bin/sh -c.")
    http: HttpSpec | None = None
    timeout: Duration | None = Field(None, description="Kill the step after this long.")
    retries: int = Field(0, ge=0, le=20, description="Extra attempts on failure, with backoff.")
    env: dict[str, str] = Field(
        default_factory=dict, description="Added to the environment of a run step; "
        "${env:NAME} passes one of the daemon's variables on purpose.")
    inherit_env: bool | None = Field(
        None, description="true: a run step inherits the daemon's whole environment (its store "
        "URL and credentials included) instead of PATH, HOME, LANG, LC_*, TZ, USER, LOGNAME, "
        "SHELL and the CLOCKWF_* variables. Absent: the workflow's inherit_env.")
    cwd: str | None = Field(None, min_length=1)

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["run"]}, {"required": ["http"]}]}
    )

    @model_validator(mode="after")
    def _kind(self) -> Step:
        if self.run is not None and self.http is not None:
            raise FieldProblem("a step has either run (a shell command) or http, not both",
                               ("http",))
        if self.run is None and self.http is None:
            raise FieldProblem("a step needs run (a shell command) or http (a request)")
        if self.http is not None:
            if self.env:
                raise FieldProblem("env applies to run steps only", ("env",))
            if self.cwd is not None:
                raise FieldProblem("cwd applies to run steps only", ("cwd",))
            if self.inherit_env is not None:
                raise FieldProblem("inherit_env applies to run steps only", ("inherit_env",))
        for name, value in self.env.items():
            if not ENV_NAME_RE.match(name):
                raise FieldProblem(f"{name!r} is not a valid environment variable name",
                                   ("env", name))
            _check_env_refs(value, ("env", name))
        return self

    @property
    def kind(self) -> Literal["run", "http"]:
        return "run" if self.run is not None else "http"


class Policy(_Model):
    """What to do with missed and overlapping occurrences."""

    catchup: Literal["latest", "all", "none"] = "latest"
    catchup_window: Duration = Field(timedelta(hours=24))
    grace: Duration = Field(timedelta(minutes=1))
    max_catchup: int = Field(100, ge=1, le=100_000)
    overlap: Literal["allow", "skip", "queue_one", "cancel_previous"] = "allow"


# -- notify and expect: who is told, and what the workflow is expected to do ----------------------

NOTIFY_EVENTS: tuple[str, ...] = ("failed", "timed_out", "interrupted", "missed", "overdue",
                                  "slow", "auto_paused", "recovered", "succeeded")
NotifyEvent = Literal["failed", "timed_out", "interrupted", "missed", "overdue", "slow",
                      "auto_paused", "recovered", "succeeded"]
DEFAULT_NOTIFY_EVENTS: tuple[str, ...] = tuple(e for e in NOTIFY_EVENTS if e != "succeeded")
_DEFAULT_ON: tuple[NotifyEvent, ...] = ("failed", "timed_out", "interrupted", "missed", "overdue",
                                        "slow", "auto_paused", "recovered")


class WebhookTarget(_Model):
    """POST the notification JSON to a URL (the HTTP step's machinery: TLS, timeout)."""

    url: str = Field(min_length=1, examples=["https://hooks.example.com/clockwf"])
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Duration = Field(timedelta(seconds=10))

    _url = field_validator("url")(lambda v: HttpSpec._url(v))
    _headers = field_validator("headers")(lambda v: HttpSpec._headers(v))


class CommandTarget(_Model):
    """Run a shell command with the notification JSON on stdin."""

    run: str = Field(min_length=1, description="Shell command, run by /bin/sh -c.")
    timeout: Duration = Field(timedelta(seconds=30))
    env: dict[str, str] = Field(default_factory=dict)


class NotifyTarget(_Model):
    """Exactly one of webhook, command or apprise."""

    webhook: WebhookTarget | None = None
    command: str | CommandTarget | None = Field(
        None, description="A shell command (or {run, timeout, env}); the notification JSON "
        "on stdin.")
    apprise: str | None = Field(None, min_length=1, description="An Apprise URL "
                                "(slack://, mailto://, ntfy://, json://...); needs "
                                "clockwf[notify].")

    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["webhook"]}, {"required": ["command"]}, {"required": ["apprise"]}]})

    @model_validator(mode="after")
    def _one(self) -> NotifyTarget:
        given = [k for k in ("webhook", "command", "apprise") if getattr(self, k) is not None]
        if len(given) != 1:
            raise FieldProblem("a notify target has exactly one of webhook, command or apprise"
                               + (f" (got {', '.join(given)})" if given else ""))
        if isinstance(self.command, str) and not self.command.strip():
            raise FieldProblem("command must not be empty", ("command",))
        if isinstance(self.command, CommandTarget):
            for name, value in self.command.env.items():
                if not ENV_NAME_RE.match(name):
                    raise FieldProblem(f"{name!r} is not a valid environment variable name",
                                       ("command", "env", name))
                _check_env_refs(value, ("command", "env", name))
        if self.apprise is not None:
            _check_env_refs(self.apprise, ("apprise",))
            if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", ENV_REF_RE.sub("x", self.apprise)):
                raise FieldProblem(f"{self.apprise!r} is not an Apprise URL such as "
                                   "slack://TOKEN/#ops or json://host/path", ("apprise",))
            if not _apprise_installed():
                raise FieldProblem("apprise targets need the Apprise library, which is not "
                                   "installed: pip install 'clockwf[notify]'", ("apprise",))
        return self

    @property
    def kind(self) -> str:
        return "webhook" if self.webhook else "command" if self.command is not None \
            else "apprise"


def _apprise_installed() -> bool:
    """Whether Apprise can be imported, without importing it (validate stays fast)."""
    import importlib.util

    try:
        return importlib.util.find_spec("apprise") is not None
    except (ImportError, ValueError):
        return False


class Notify(_Model):
    """Who is told about what (a workflow's own, or the namespace defaults)."""

    on: list[NotifyEvent] = Field(default_factory=lambda: list(_DEFAULT_ON),
                                  description="Events that notify; default: all but "
                                  "succeeded.")
    repeat: Literal["change", "every"] = Field(
        "change", description="change: the first failure of a streak, then recovered; "
        "every: each failure.")
    to: list[NotifyTarget] = Field(default_factory=list, description="Targets; empty: the "
                                   "namespace defaults (clockwf notify publish).")


class Expect(_Model):
    """What the workflow is expected to do; the tick checks it."""

    success_within: Duration | None = Field(
        None, description="overdue when no run succeeded for this long (counted from the "
        "first publish when none ever has).")
    finish_within: Duration | None = Field(
        None, description="slow when a run is still running after this long.")
    pause_after_failures: int | None = Field(
        None, ge=1, le=10_000, description="Pause the trigger after this many consecutive "
        "failed runs (auto_paused); resume clears it.")

    @model_validator(mode="after")
    def _positive(self) -> Expect:
        for name in ("success_within", "finish_within"):
            value = getattr(self, name)
            if value is not None and value <= timedelta(0):
                raise FieldProblem(f"{name} must be longer than 0", (name,))
        return self


class Definition(_Model):
    """A workflow definition: one per YAML file."""

    id: str = Field(pattern=ID_PATTERN, description="Lower-case id: letters, digits, . _ -")
    name: str | None = None
    description: str | None = None
    trigger: Trigger | None = Field(None, description="Absent: started only by hand.")
    policy: Policy = Field(default_factory=Policy)
    payload_schema_mode: Literal["pinned", "inferred"] = "pinned"
    inherit_env: bool = Field(
        False, description="true: run steps inherit the daemon's whole environment (a step's "
        "own inherit_env wins).")
    notify: Notify | None = Field(None, description="Alerts; absent: the namespace defaults.")
    expect: Expect | None = None
    steps: list[Step] = Field(min_length=1)

    model_config = ConfigDict(title="clockwf workflow definition")

    @model_validator(mode="after")
    def _cross(self) -> Definition:
        if self.payload_schema_mode == "inferred" and self.trigger_type in ("schedule",
                                                                            "recurring"):
            raise FieldProblem(
                "a time-triggered workflow must use payload_schema_mode: pinned: its runs "
                f"receive the fixed {PAYLOAD_SCHEMA} payload, so there is nothing to infer "
                "(inferred is for event and manual workflows)", ("payload_schema_mode",))
        seen: dict[str, int] = {}
        for index in range(len(self.steps)):
            sid = self.step_id(index)
            if sid in seen:
                raise FieldProblem(
                    f"step id {sid!r} is already used by step {seen[sid] + 1}; ids must be "
                    "unique", ("steps", index, "id"))
            seen[sid] = index
        return self

    @property
    def trigger_type(self) -> str:
        return "manual" if self.trigger is None else self.trigger.type

    def step_id(self, index: int) -> str:
        step = self.steps[index]
        return step.id if step.id is not None else f"step-{index + 1}"


class WorkflowClockTriggerV1(BaseModel):
    """The payload every time-triggered run receives."""

    model_config = ConfigDict(extra="forbid", title=PAYLOAD_SCHEMA)

    schema_: Literal["WorkflowClockTrigger.v1"] = Field("WorkflowClockTrigger.v1", alias="schema")
    trigger_type: Literal["schedule", "recurring"]
    workflow_id: str
    workflow_version: int
    fire_key: str
    scheduled_for: str = Field(description="Nominal local time, ISO 8601 with offset.")
    scheduled_for_utc: str = Field(description="Nominal instant in UTC, ISO 8601 with Z.")
    fired_at: str = Field(description="When the run was launched, UTC.")
    timezone: str
    cron: str | None = None
    run_at: str | None = None
    rrule: str | None = Field(None, description="The rule of an rrule trigger (absent "
                              "otherwise).")
    every: str | None = Field(None, description="The interval of an every trigger, such as "
                              "1h30m (absent otherwise).")
    moved_from: str | None = Field(None, description="For an occurrence moved off an excluded "
                                   "day by the calendar: its nominal local time, ISO 8601 with "
                                   "offset (absent otherwise).")
    catchup: bool = False
    backfill: bool = False


def definition_schema() -> dict[str, Any]:
    """The JSON Schema of a definition file."""
    schema = Definition.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://clockwf.dev/schema/definition.json", **schema}


def payload_schema() -> dict[str, Any]:
    """The JSON Schema of the WorkflowClockTrigger.v1 payload."""
    schema = WorkflowClockTriggerV1.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://clockwf.dev/schema/WorkflowClockTrigger.v1.json", **schema}
