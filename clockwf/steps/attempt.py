"""One attempt of one step of a definition: the environment or request built from the
:class:`~clockwf.models.Step`, then :mod:`~clockwf.steps.shell` or :mod:`~clockwf.steps.http`.
No store and no threads of the executor: it decides which attempt runs, records it and retries.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from clockwf.models import Step
from clockwf.steps.common import (
    FAILED,
    KILL_GRACE,
    OUTPUT_LIMIT,
    LineCallback,
    StepControl,
    StepOutcome,
)
from clockwf.steps.env import MissingVariable, Secrets, step_environment
from clockwf.steps.http import DEFAULT_TIMEOUT, send_http
from clockwf.steps.shell import run_command


@dataclass(frozen=True)
class Attempt:
    """What one attempt needs to know about its run."""

    step: Step
    index: int                      # 0-based position of the step in the definition
    payload: str                    # the run's payload (JSON text)
    run_vars: Mapping[str, str]     # the CLOCKWF_* variables of the run, step and attempt
    inherit_env: bool = False       # the workflow's inherit_env (a step's own setting wins)


def run_attempt(attempt: Attempt, control: StepControl, *, environ: Mapping[str, str],
                output_limit: int = OUTPUT_LIMIT, kill_grace: float = KILL_GRACE,
                on_line: LineCallback | None = None,
                opener: urllib.request.OpenerDirector | None = None) -> StepOutcome:
    """Run one attempt; ``environ`` is the daemon's environment, where ``${env:NAME}`` is
    resolved (and, with ``inherit_env``, what a ``run`` step inherits)."""
    step, where = attempt.step, f"steps[{attempt.index}]"
    payload = attempt.payload.encode("utf-8")
    if step.run is not None:
        secrets = Secrets()
        inherit = step.inherit_env if step.inherit_env is not None else attempt.inherit_env
        try:
            env = step_environment(step.env, attempt.run_vars, environ=environ, inherit=inherit,
                                   secrets=secrets, where=where)
        except MissingVariable as exc:
            return StepOutcome(FAILED, 0, error=exc.message, retryable=False)
        timeout = step.timeout.total_seconds() if step.timeout else None
        return run_command(step.run, env, step.cwd, payload, timeout or None, control,
                           output_limit=output_limit, kill_grace=kill_grace, on_line=on_line,
                           redact=secrets.redact)
    assert step.http is not None
    spec = step.http
    body = None if spec.method == "GET" else payload
    headers = {"Content-Type": "application/json"} if body is not None else {}
    headers.update(spec.headers)
    limits = [t.total_seconds() for t in (spec.timeout, step.timeout)
              if t is not None and t.total_seconds() > 0]
    return send_http(spec.method, spec.url, headers=headers, body=body,
                     timeout=min(limits) if limits else DEFAULT_TIMEOUT, environ=environ,
                     control=control, output_limit=output_limit, where=f"{where}.http",
                     opener=opener)
