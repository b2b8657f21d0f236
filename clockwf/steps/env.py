"""What a step sees of the daemon: ``${env:NAME}`` references and a ``run`` step's environment.

A ``run`` step gets the environment cron and systemd give a job, not the daemon's: ``PATH``,
``HOME``, ``LANG``, ``LC_*``, ``TZ``, ``USER``, ``LOGNAME`` and ``SHELL`` as the daemon has them
(``PATH`` defaults to :data:`DEFAULT_PATH`), the ``CLOCKWF_*`` variables of the run, and what the
step declares in ``env:``, where ``${env:NAME}`` passes one of the daemon's variables on purpose.
Nothing else of the daemon's (its store URL, ``PG*``, ``NOTIFY_SOCKET``, ``WATCHDOG_*``) reaches
the step unless the step or its workflow says ``inherit_env: true``.

Every value resolved from ``${env:NAME}`` is registered in the attempt's :class:`Secrets` and
replaced by ``***`` wherever text leaves the attempt (stored output, errors, streamed lines).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clockwf.errors import InvalidInput
from clockwf.models import ENV_REF_RE

MIN_SECRET_LENGTH = 4             # shorter resolved values are not masked (they would mask
                                  # ordinary text everywhere)
PASSED_VARIABLES = ("PATH", "HOME", "LANG", "TZ", "USER", "LOGNAME", "SHELL")
PASSED_PREFIXES = ("LC_",)
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


class MissingVariable(InvalidInput):
    """An ``${env:NAME}`` reference names a variable that is not set."""

    def __init__(self, name: str, where: str) -> None:
        super().__init__(f"environment variable {name} is not set (referenced by {where})",
                         name=name, where=where)
        self.name = name
        self.where = where


@dataclass
class Secrets:
    """Values resolved from ``${env:NAME}`` during one attempt; masked wherever text leaves it."""

    values: set[str] = field(default_factory=set)

    def add(self, value: str) -> None:
        if len(value) >= MIN_SECRET_LENGTH:
            self.values.add(value)

    def redact(self, text: str) -> str:
        for value in sorted(self.values, key=len, reverse=True):
            text = text.replace(value, "***")
        return text


def has_refs(template: str) -> bool:
    """Whether ``template`` holds an ``${env:NAME}`` reference."""
    return ENV_REF_RE.search(template) is not None


def resolve_refs(template: str, where: str, environ: Mapping[str, str],
                 secrets: Secrets) -> str:
    """``template`` with each ``${env:NAME}`` replaced by the variable's value.

    :raises MissingVariable: a referenced variable is not set (``where`` names the field, e.g.
        ``steps[1].http.headers.Authorization``).
    """
    def value(match: Any) -> str:
        name = match.group(1)
        found = environ.get(name)
        if found is None:
            raise MissingVariable(name, where)
        secrets.add(found)
        return found

    return ENV_REF_RE.sub(value, template)


def base_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The part of the daemon's environment every ``run`` step gets."""
    env = {name: value for name, value in environ.items()
           if name in PASSED_VARIABLES or name.startswith(PASSED_PREFIXES)}
    env.setdefault("PATH", DEFAULT_PATH)
    return env


def step_environment(declared: Mapping[str, str], run_vars: Mapping[str, str], *,
                     environ: Mapping[str, str], inherit: bool, secrets: Secrets,
                     where: str) -> dict[str, str]:
    """The environment of one ``run`` attempt: the base (or, with ``inherit``, the daemon's
    whole environment), then ``declared`` (the step's ``env:``, references resolved from
    ``environ``), then ``run_vars`` (the ``CLOCKWF_*`` variables of the run).

    :raises MissingVariable: a reference names a variable the daemon does not have.
    """
    env = dict(environ) if inherit else base_environment(environ)
    for name, template in declared.items():
        env[name] = resolve_refs(template, f"{where}.env.{name}", environ, secrets)
    env.update(run_vars)
    return env
