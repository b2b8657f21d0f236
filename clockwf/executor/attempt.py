"""Building one attempt of a step from the definition and the claimed run, and running it
through :func:`clockwf.steps.run_attempt` (which builds the step's environment or request)."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from clockwf import steps
from clockwf.launcher import run_payload
from clockwf.models import Definition, Step
from clockwf.steps import KILL_GRACE, OUTPUT_LIMIT, StepControl, StepOutcome, build_opener
from clockwf.store.base import Row
from clockwf.timeutil import iso_utc

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
        return run_payload(self.row)

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
    """Run attempt ``attempt`` of step ``index`` of ``run``: the step's environment and request
    are built by :func:`clockwf.steps.run_attempt` (a missing ``${env:NAME}`` fails it, not
    retried)."""
    return steps.run_attempt(
        steps.Attempt(step, index, run.payload,
                      clockwf_env(run, run.definition.step_id(index), attempt),
                      run.definition.inherit_env),
        control, environ=settings.env_source(), output_limit=settings.output_limit,
        kill_grace=settings.kill_grace, on_line=settings.on_output, opener=settings.opener)


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
    }
