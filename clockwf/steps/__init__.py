"""One attempt of one step: a shell command (:mod:`.shell`) or an HTTP request (:mod:`.http`),
with what a step sees of the daemon (:mod:`.env`) and what both kinds share (:mod:`.common`).
:func:`run_attempt` builds and runs an attempt from a definition's step; the executor decides
which attempt runs, records it and retries."""

from clockwf.steps.attempt import Attempt, run_attempt
from clockwf.steps.common import (
    CANCELLED,
    FAILED,
    INTERRUPTED,
    KILL_GRACE,
    OUTPUT_LIMIT,
    SUCCEEDED,
    TIMED_OUT,
    OutputTail,
    StepControl,
    StepOutcome,
)
from clockwf.steps.env import MissingVariable, Secrets, resolve_refs, step_environment
from clockwf.steps.http import HttpRequest, build_opener, run_http, send_http
from clockwf.steps.shell import (
    PAYLOAD_ENV_LIMIT,
    ShellRequest,
    group_alive,
    run_command,
    run_shell,
    signal_group,
)

__all__ = [
    "CANCELLED", "FAILED", "INTERRUPTED", "KILL_GRACE", "OUTPUT_LIMIT", "PAYLOAD_ENV_LIMIT",
    "SUCCEEDED", "TIMED_OUT", "Attempt", "HttpRequest", "MissingVariable", "OutputTail",
    "Secrets", "ShellRequest", "StepControl", "StepOutcome", "build_opener", "group_alive",
    "resolve_refs", "run_attempt", "run_command", "run_http", "run_shell", "send_http",
    "signal_group", "step_environment",
]
