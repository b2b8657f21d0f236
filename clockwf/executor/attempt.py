"""Building one attempt of a step from the definition and the claimed run, and running it
through :mod:`clockwf.steps` (``run_shell`` / ``run_http``)."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from clockwf.models import Definition, Step
from clockwf.steps import (
    FAILED,
    KILL_GRACE,
    OUTPUT_LIMIT,
    HttpRequest,
    MissingVariable,
    Secrets,
    ShellRequest,
    StepControl,
    StepOutcome,
    build_opener,
    resolve_refs,
    run_http,
    run_shell,
)
from clockwf.store.base import Row
from clockwf.timeutil import iso_utc

DEFAULT_HTTP_TIMEOUT = 30.0
OutputCallback = Callable[[str], None]


@dataclass(frozen=True)
class ClaimedRun:
    """A claimed run and the definition version it executes."""

    row: Row
    definition: Definition

    @property
    def run_id(self) -> int:
        return int(self.row["run_id"])

    @property
    def payload(self) -> str:
        return str(self.row["payload"] or "{}")

    def scheduled_for(self) -> str:
        """The occurrence's local time with offset (time triggers), else ''."""
        try:
            meta = json.loads(self.row.get("metadata") or "{}")
        except json.JSONDecodeError:
            meta = {}
        local = meta.get("scheduled_for") if isinstance(meta, dict) else None
        if isinstance(local, str) and local:
            return local
        return iso_utc(self.row.get("scheduled_for")) or ""


@dataclass(frozen=True)
class AttemptSettings:
    """How attempts run: output kept, kill grace, where output lines go and where
    ``${env:NAME}`` is resolved (default: the process environment, read at each attempt)."""

    output_limit: int = OUTPUT_LIMIT
    kill_grace: float = KILL_GRACE
    on_output: OutputCallback | None = None
    environ: Mapping[str, str] | None = None
    opener: urllib.request.OpenerDirector = field(default_factory=build_opener)

    def env_source(self) -> Mapping[str, str]:
        return os.environ if self.environ is None else self.environ


def run_attempt(run: ClaimedRun, control: StepControl, index: int, step: Step, attempt: int,
                settings: AttemptSettings) -> StepOutcome:
    """Run attempt ``attempt`` of step ``index`` of ``run``; a missing ``${env:NAME}`` fails
    it (not retried)."""
    secrets = Secrets()
    try:
        if step.run is not None:
            return _shell(run, control, index, step, attempt, settings, secrets)
        return _http(run, control, index, step, settings, secrets)
    except MissingVariable as exc:
        return StepOutcome(FAILED, 0, error=exc.message, retryable=False)


def _shell(run: ClaimedRun, control: StepControl, index: int, step: Step, attempt: int,
           settings: AttemptSettings, secrets: Secrets) -> StepOutcome:
    assert step.run is not None
    source = settings.env_source()
    env = dict(source)
    for name, template in step.env.items():
        env[name] = resolve_refs(template, f"steps[{index}].env.{name}", source, secrets)
    env.update(clockwf_env(run, run.definition.step_id(index), attempt))
    timeout = step.timeout.total_seconds() if step.timeout else None
    return run_shell(
        ShellRequest(step.run, env, step.cwd, run.payload.encode("utf-8"),
                     timeout if timeout else None),
        control, output_limit=settings.output_limit, kill_grace=settings.kill_grace,
        on_line=settings.on_output, redact=secrets.redact)


def _http(run: ClaimedRun, control: StepControl, index: int, step: Step,
          settings: AttemptSettings, secrets: Secrets) -> StepOutcome:
    assert step.http is not None
    spec = step.http
    source = settings.env_source()
    url = resolve_refs(spec.url, f"steps[{index}].http.url", source, secrets)
    headers = {"User-Agent": _user_agent()}
    body = None if spec.method == "GET" else run.payload.encode("utf-8")
    if body is not None:
        headers["Content-Type"] = "application/json"
    for name, template in spec.headers.items():
        headers[name] = resolve_refs(template, f"steps[{index}].http.headers.{name}", source,
                                     secrets)
    limits = [t.total_seconds() for t in (spec.timeout, step.timeout)
              if t is not None and t.total_seconds() > 0]
    return run_http(
        HttpRequest(url, spec.method, headers, body,
                    min(limits) if limits else DEFAULT_HTTP_TIMEOUT, spec.url),
        control, output_limit=settings.output_limit, opener=settings.opener,
        redact=secrets.redact)


def clockwf_env(run: ClaimedRun, step_id: str, attempt: int) -> dict[str, str]:
    """The ``CLOCKWF_*`` variables of one attempt of a ``run`` step."""
    row = run.row
    return {
        "CLOCKWF_RUN_ID": str(row["run_id"]),
        "CLOCKWF_FIRE_KEY": str(row["fire_key"]),
        "CLOCKWF_SCHEDULED_FOR": run.scheduled_for(),
        "CLOCKWF_WORKFLOW_ID": str(row["workflow_id"]),
        "CLOCKWF_WORKFLOW_VERSION": str(row["workflow_version"]),
        "CLOCKWF_TRIGGER_TYPE": str(row["trigger_type"]),
        "CLOCKWF_STEP_ID": step_id,
        "CLOCKWF_ATTEMPT": str(attempt),
        "CLOCKWF_PAYLOAD": run.payload,
    }


def _user_agent() -> str:
    from clockwf import __version__

    return f"clockwf/{__version__}"
