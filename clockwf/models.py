"""The definition file format and the time-trigger payload.

These pydantic models are the single source of the format: they validate files and they generate
the JSON Schema that ``clockwf schema`` prints. Checks that need a location inside the file raise
:class:`FieldProblem`, which carries the path of the offending value so that diagnostics can name
its line and column. Checks that depend on the clock (run_at in the past) or only warn live in
:mod:`clockwf.validate`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
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
                 offset: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.offset = offset    # the offending character's index in the string value, if one


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


class RecurringTrigger(_Model):
    """Fires at every time matching a cron expression, in a time zone."""

    type: Literal["recurring"]
    cron: str = Field(description="Five cron fields (minute hour day-of-month month "
                      "day-of-week) or a macro such as @daily.", examples=["30 2 * * *"])
    timezone: str = Field("UTC", description="IANA time zone name.",
                          examples=["America/New_York"])
    jitter: Duration = Field(timedelta(0), description="Delay each fire by a deterministic "
                             "0..jitter derived from its fire key.")
    dst: DstPolicy = Field(default_factory=DstPolicy)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from clockwf.cron import parse_cron

        try:
            parse_cron(value)
        except ClockwfError as exc:
            column = getattr(exc, "column", None)
            raise FieldProblem(exc.message,
                               offset=None if column is None else column - 1) from None
        return value

    _tz = field_validator("timezone")(_check_zone)

    @model_validator(mode="after")
    def _jitter_below_interval(self) -> RecurringTrigger:
        # A jitter as long as the interval would let an occurrence fall due after the next one
        # (and be judged late while the daemon runs). Only checked once cron is valid.
        if self.jitter:
            from clockwf.cron import parse_cron

            try:
                interval = parse_cron(self.cron).min_interval()
            except ClockwfError:
                return self
            if self.jitter >= interval:
                raise FieldProblem(
                    f"jitter {format_duration(self.jitter)} is not shorter than the shortest "
                    f"interval between occurrences of {self.cron!r} "
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
