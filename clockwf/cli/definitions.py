"""Commands on definition files that need no store: ``validate``, ``schema`` and ``next``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from clockwf import documents, render, yamlload
from clockwf.cli.app import FormatOpt, NowOpt, OutputFormat, app
from clockwf.cron import CronSchedule
from clockwf.errors import InvalidInput
from clockwf.models import (
    definition_schema,
    payload_schema,
)
from clockwf.timeutil import get_zone, parse_instant
from clockwf.validate import FileReport, validate_path, validate_source

if TYPE_CHECKING:

    pass

STDIN = "-"
STDIN_NAME = "<stdin>"


def _now(text: str | None, zone: tzinfo) -> datetime:
    """``--now``, a naive value read in ``zone``; the real clock when absent."""
    if text is None:
        return datetime.now(UTC)
    try:
        return parse_instant(text, default_tz=zone, what="--now")
    except InvalidInput as exc:
        raise typer.BadParameter(exc.message, param_hint="--now") from None


class DefinitionFiles:
    """Validates definition files named on the command line; ``-`` is standard input (read
    once, reported as ``<stdin>``). Shared by every command that takes FILE arguments."""

    def __init__(self) -> None:
        self._stdin: bytes | None = None

    def validate(self, name: str, now: datetime, *, strict: bool = False,
                 for_publish: bool = False) -> FileReport:
        if name != STDIN:
            return validate_path(name, now, strict=strict, for_publish=for_publish)
        if self._stdin is None:
            self._stdin = yamlload.read_capped(sys.stdin.buffer)
        return validate_source(self._stdin, STDIN_NAME, now, strict=strict,
                               for_publish=for_publish)


@app.command()
def validate(
    files: Annotated[list[str], typer.Argument(
        metavar="FILE|DIR", help="Definition files to check (a directory: every *.yaml / "
                                 "*.yml under it, as publish takes it); - reads standard "
                                 "input.")],
    strict: Annotated[bool, typer.Option(
        "--strict", envvar="CLOCKWF_STRICT", help="Treat warnings as errors.")] = False,
    fmt: FormatOpt = OutputFormat.human,
    now: NowOpt = None,
) -> None:
    """Check workflow definitions: every check publish runs, without a store.

    Exit 0 when every file is valid, 1 otherwise. A naive --now is read as UTC.
    """
    at = _now(now, UTC)
    reader = DefinitionFiles()
    from clockwf.sources import expand

    reports = [reader.validate(name, at, strict=strict) for name in expand(files)]
    if fmt is OutputFormat.json:
        render.emit_json({"files": [report.as_dict() for report in reports]})
    else:
        for report in reports:
            render.validation_report(report)
    if not all(report.ok for report in reports):
        raise typer.Exit(1)


@app.command()
def schema(
    payload: Annotated[bool, typer.Option(
        "--payload", help="The schema of the WorkflowClockTrigger.v1 payload that "
                          "time-triggered runs receive, instead of the definition file's.")
    ] = False,
    notification: Annotated[bool, typer.Option(
        "--notification", help="The schema of the clockwf.Notification.v1 document that "
                               "notify targets receive.")] = False,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", dir_okay=False, help="Write the schema to this file instead of "
                                               "standard output.")] = None,
) -> None:
    """Print the JSON Schema of a definition file (for editors and CI)."""
    from clockwf.notify.body import notification_schema

    text = render.json_text(notification_schema() if notification else payload_schema()
                            if payload else definition_schema())
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {output}: {exc.strerror or exc}") from None


class Gap(StrEnum):
    run_after = "run_after"
    skip = "skip"


class Fold(StrEnum):
    once = "once"
    twice = "twice"


@app.command("next")
def next_(
    file: Annotated[str | None, typer.Argument(
        metavar="FILE", help="A definition file (- reads standard input); or use --cron.")
    ] = None,
    cron: Annotated[str | None, typer.Option(
        "--cron", help="A cron expression such as '30 2 * * *' or @daily.")] = None,
    tz: Annotated[str | None, typer.Option(
        "--tz", help="IANA time zone of --cron (default UTC).")] = None,
    gap: Annotated[Gap | None, typer.Option(
        "--gap", help="With --cron: a fixed-time job in a DST gap runs after it (run_after, "
                      "the default) or is skipped.")] = None,
    fold: Annotated[Fold | None, typer.Option(
        "--fold", help="With --cron: a fixed-time job in a repeated hour fires once (the "
                       "default) or twice.")] = None,
    count: Annotated[int, typer.Option(
        "-n", "--count", min=1, max=10_000, help="How many fires to show.")] = 10,
    now: NowOpt = None,
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Show the next fires of a cron expression or of a definition file, in local time and
    UTC, with what DST did to each. A naive --now is read in the schedule's zone."""
    if (file is None) == (cron is None):
        raise typer.BadParameter("give either --cron EXPR or a FILE")
    if file is not None and (tz, gap, fold) != (None, None, None):
        raise typer.BadParameter("--tz, --gap and --fold go with --cron; a FILE brings its own")
    if cron is not None:
        zone = tz or "UTC"
        schedule = CronSchedule(cron, zone, gap=(gap or Gap.run_after).value,
                                fold=(fold or Fold.once).value)
        at = _now(now, get_zone(zone))
        rows = render.fire_rows(schedule.iter_fires(at, include_skipped=True), count)
        title = f"next fires of {cron!r} in {zone}"
    else:
        rows, title = _file_fires(file or STDIN, now, count)
    if fmt is OutputFormat.json:
        render.emit_json(documents.fires(rows))
    else:
        render.fires_table(title, rows)


def _file_fires(name: str, now: str | None, count: int) -> tuple[list[dict[str, str | None]],
                                                                   str]:
    definition = DefinitionFiles().validate(name, _now(now, UTC)).raise_for_errors()
    rows, title, warning = documents.definition_fires(
        definition, lambda zone: _now(now, zone), count)
    if warning:
        render.warning(warning)
    return rows, title
