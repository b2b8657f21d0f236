"""The Typer application object and the option types shared by every command."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

app = typer.Typer(
    name="clockwf",
    help="Time-triggered workflows: validate, publish, schedule and run them, exactly once.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    # Every option has an environment twin: explicit ones (CLOCKWF_DB, CLOCKWF_NAMESPACE, ...)
    # and, for the rest, CLOCKWF_<COMMAND>_<OPTION> (CLOCKWF_LIST_TRIGGER=recurring).
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "CLOCKWF"},
)


class OutputFormat(StrEnum):
    human = "human"
    json = "json"


class LogFormat(StrEnum):
    human = "human"
    json = "json"


FormatOpt = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", envvar="CLOCKWF_FORMAT",
                 help="human (a table) or json (one JSON document on stdout)."),
]
NowOpt = Annotated[
    str | None,
    typer.Option("--now", envvar="CLOCKWF_NOW",
                 help="Act as if it were this ISO 8601 instant (rehearsals and tests)."),
]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", envvar="CLOCKWF_DB",
                 help="Store: a file path (default ./clockwf.db), sqlite:///relative.db or "
                      "sqlite:////absolute/path.db, or postgresql://user@host/db."),
]
NamespaceOpt = Annotated[
    str,
    typer.Option("--namespace", envvar="CLOCKWF_NAMESPACE",
                 help="Isolates teams sharing one store."),
]
