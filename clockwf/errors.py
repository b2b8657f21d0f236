"""The exception hierarchy of clockwf.

Every exception raised on purpose by clockwf derives from :class:`ClockwfError`; its docstring is
the default message. The command line maps the classes to exit codes in one place
(``clockwf.cli``): invalid input, not found and refused give 1, a usage error 2, an unreachable or
locked store 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ClockwfError(Exception):
    """clockwf failed."""

    exit_code = 1

    def __init__(self, message: str | None = None, **context: Any) -> None:
        self.message = message or (self.__doc__ or "").strip()
        self.context = context
        super().__init__(self.message)


class InvalidInput(ClockwfError):
    """The input is not valid."""


class CronError(InvalidInput):
    """The cron expression is not valid."""

    def __init__(self, message: str, *, field: str | None = None, expression: str = "",
                 column: int | None = None) -> None:
        super().__init__(message, field=field, expression=expression)
        self.field = field
        self.expression = expression
        self.column = column    # 1-based, in ``expression``, when one character is at fault


class TimezoneError(InvalidInput):
    """The time zone is not a known IANA zone."""


class DurationError(InvalidInput):
    """The duration is not valid."""


@dataclass(frozen=True)
class Diagnostic:
    """One finding about a definition file: where it is, which field, and what is wrong."""

    message: str
    line: int | None = None
    column: int | None = None
    field: str | None = None
    path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "field": self.field,
                "message": self.message}

    def location(self) -> str:
        where = self.path or "<input>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def __str__(self) -> str:
        field = f" {self.field}:" if self.field else ""
        return f"{self.location()}:{field} {self.message}"


class DefinitionInvalid(InvalidInput):
    """The workflow definition is not valid."""

    def __init__(self, diagnostics: list[Diagnostic], message: str | None = None) -> None:
        self.diagnostics = diagnostics
        text = message or "\n".join(str(d) for d in diagnostics) or None
        super().__init__(text)


class UsageError(ClockwfError):
    """The command cannot be used this way."""

    exit_code = 2


class PayloadTooLarge(InvalidInput):
    """The payload is over the size limit."""


class NotFound(ClockwfError):
    """Not found."""


class Refused(ClockwfError):
    """The request was refused."""


class StoreError(ClockwfError):
    """The store failed."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or is locked."""

    exit_code = 3


class MigrationError(StoreError):
    """The store schema could not be migrated."""
