"""The Typer application object and the option types shared by every command."""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Annotated

import typer

from clockwf.errors import UsageError

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


# --log-format offers the same two choices as --format.
LogFormat = OutputFormat


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


# Commands that act on live work at the real time. A rehearsal clock exported for `tick`,
# `simulate` or `explain` (CLOCKWF_NOW) must not make them stamp, judge or run work at a fake
# instant: they refuse it. `run` and `status` still take --now given on their command line.
LIVE_COMMANDS = ("run", "status", "daemon", "worker")
_TAKES_NOW = ("run", "status")


def refuse_rehearsal_clock(command: str | None) -> None:
    """Raise :class:`UsageError` when ``command`` is live and CLOCKWF_NOW is exported."""
    value = os.environ.get("CLOCKWF_NOW")
    if command not in LIVE_COMMANDS or not value:
        return
    hint = (f" (to act at another instant on purpose, pass --now to `clockwf {command}` "
            "instead)" if command in _TAKES_NOW else "")
    raise UsageError(
        f"CLOCKWF_NOW is set in the environment ({value!r}), but `clockwf {command}` acts on "
        f"live work at the real time: unset CLOCKWF_NOW{hint}. CLOCKWF_NOW is for rehearsals: "
        "tick, next, validate, explain, simulate, ...")


def _print_version(ctx: typer.Context, value: bool) -> None:
    # Only from the command line: an exported CLOCKWF_VERSION (a deploy script's own variable,
    # say) must neither print this nor break every command with "not a valid boolean".
    if not value or ctx.resilient_parsing:
        return
    from importlib import metadata

    try:
        version = metadata.version("clockwf")
    except metadata.PackageNotFoundError:   # run from a source tree that was never installed
        from clockwf import __version__ as version
    typer.echo(f"clockwf {version}")
    raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_print_version, allow_from_autoenv=False,
        help="Print clockwf's version and exit.")] = False,
) -> None:
    refuse_rehearsal_clock(ctx.invoked_subcommand)
