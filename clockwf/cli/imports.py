"""``clockwf import crontab``: definitions from a crontab, one file per job."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from clockwf import render
from clockwf.cli.app import FormatOpt, NowOpt, OutputFormat, app
from clockwf.clock import parse_now
from clockwf.errors import InvalidInput

if TYPE_CHECKING:
    from clockwf.crontab import CrontabImport, Finding

import_app = typer.Typer(help="Turn existing schedules into clockwf definitions.",
                         no_args_is_help=True)
app.add_typer(import_app, name="import")


def _read(file: str | None) -> tuple[str, str]:
    """The crontab's text and the name to report it by."""
    if file is None:
        try:
            proc = subprocess.run(["crontab", "-l"], capture_output=True, timeout=30,
                                  check=False)
        except OSError as exc:
            raise InvalidInput(f"cannot run `crontab -l` ({exc.strerror or exc}): give the "
                               "crontab as a FILE, or - for standard input") from None
        if proc.returncode != 0:
            detail = proc.stderr.decode("utf-8", "replace").strip()
            raise InvalidInput(f"`crontab -l` failed: {detail or proc.returncode}")
        data, name = proc.stdout, "crontab -l"
    elif file == "-":
        data, name = sys.stdin.buffer.read(), "<stdin>"
    else:
        try:
            with open(file, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise InvalidInput(f"{file}: cannot be read: {exc.strerror or exc}") from None
        name = file
    try:
        return data.decode("utf-8"), name
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InvalidInput(f"{name}:{line}: byte 0x{data[exc.start]:02x} is not UTF-8: save "
                           "the crontab as UTF-8") from None


@import_app.command("crontab")
def crontab(
    file: Annotated[str | None, typer.Argument(
        metavar="[FILE|-]", help="A crontab file; - reads standard input; absent: the output "
                                 "of `crontab -l`.")] = None,
    system: Annotated[bool, typer.Option(
        "--system", help="The /etc/crontab and /etc/cron.d format, with a user field after "
                         "the schedule.")] = False,
    out: Annotated[str | None, typer.Option(
        "--out", metavar="DIR", help="Write one <id>.yaml per job into this directory "
                                     "(created if needed); without it the files are listed "
                                     "on standard output.")] = None,
    timezone: Annotated[str | None, typer.Option(
        "--timezone", help="The zone cron runs in, for jobs without CRON_TZ (default: this "
                           "machine's zone).")] = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Exit 1, writing nothing, when any line is refused.")] = False,
    now: NowOpt = None,
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Write one definition per crontab job, keeping cron's schedule, time zone, environment,
    working directory and % standard input.

    @reboot and anything else clockwf cannot keep is reported with its line number and left
    out; every written file passes validate.
    """
    from clockwf.crontab import import_crontab
    from clockwf.timeutil import get_zone

    if timezone is not None:
        get_zone(timezone)
    at = parse_now(now) if now is not None else datetime.now(UTC)
    text, name = _read(file)
    result = import_crontab(text, name, at, system=system, default_zone=timezone,
                            out_dir=out or ".")
    if strict and result.refused:
        _refuse(result.refused, name)
    written = _write(result, out) if out is not None else {}
    if fmt is OutputFormat.json:
        render.emit_json(_document(result, name, written))
    else:
        _show(result, name, out, written)


def _refuse(refused: list[Finding], name: str) -> NoReturn:
    """--strict: every refused line, then exit 1 having written nothing."""
    for finding in refused:
        render.error(finding.text(name))
    render.error(f"nothing was written: {len(refused)} line(s) refused (--strict)")
    raise typer.Exit(1)


def _write(result: CrontabImport, out: str) -> dict[str, str]:
    """Each imported definition as <id>.yaml in ``out`` (created if needed); the files written,
    by workflow id."""
    written: dict[str, str] = {}
    try:
        os.makedirs(out, exist_ok=True)
        for item in result.workflows:
            path = os.path.join(out, f"{item.workflow_id}.yaml")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(item.yaml)
            written[item.workflow_id] = path
    except OSError as exc:
        raise InvalidInput(f"{out}: cannot write: {exc.strerror or exc}") from None
    return written


def _document(result: CrontabImport, name: str, written: dict[str, str]) -> dict[str, Any]:
    """The --format json answer: each workflow with its definition and file, and the findings."""
    return {
        "source": name,
        "workflows": [{"workflow_id": w.workflow_id, "line": w.job.line,
                       "cron": w.job.schedule, "timezone": w.timezone,
                       "user": w.job.user, "file": written.get(w.workflow_id),
                       "definition": w.yaml} for w in result.workflows],
        "findings": [f.as_json() for f in result.findings],
    }


def _show(result: CrontabImport, name: str, out: str | None, written: dict[str, str]) -> None:
    """The human answer: the findings, then the definitions (or, with --out, a table of the
    files written) and a count."""
    refused = result.refused
    for finding in result.findings:
        if finding.severity == "refused":
            render.warning(finding.text(name))
        else:
            render.note(finding.text(name))
    if out is None:
        for w in result.workflows:
            render.text(f"# ---- {w.workflow_id}.yaml")
            render.text(w.yaml.rstrip("\n"))
    else:
        render.table(None, ["line", "workflow", "file", "schedule", "timezone"],
                     [(w.job.line, w.workflow_id, written[w.workflow_id], w.job.schedule,
                       w.timezone) for w in result.workflows])
    render.note(f"{len(result.workflows)} job(s) imported, {len(refused)} line(s) "
                "refused" + (" (listed above)" if refused else ""))
