"""Output: one JSON document for machines, Rich tables for people. Nothing else prints."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from clockwf.cron import Fire
    from clockwf.errors import Diagnostic
    from clockwf.schedule import Occurrence
    from clockwf.validate import FileReport

_stdout: Console | None = None
_stderr: Console | None = None


def out() -> Console:
    global _stdout
    if _stdout is None or _stdout.file is not sys.stdout:
        _stdout = Console(file=sys.stdout, highlight=False, soft_wrap=True)
    return _stdout


def err() -> Console:
    global _stderr
    if _stderr is None or _stderr.file is not sys.stderr:
        _stderr = Console(file=sys.stderr, highlight=False, soft_wrap=True)
    return _stderr


def json_text(document: Any) -> str:
    """The one JSON serialisation of clockwf output (stable key order as given)."""
    return json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"


def emit_json(document: Any) -> None:
    """Write one JSON document to stdout (stable key order as given)."""
    sys.stdout.write(json_text(document))
    sys.stdout.flush()


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    t = Table(title=title, title_justify="left", header_style="bold")
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*["" if v is None else str(v) for v in row])
    out().print(t)


def error(message: str) -> None:
    err().print(Text.assemble(("error: ", "bold red"), message))


def warning(message: str) -> None:
    err().print(Text.assemble(("warning: ", "yellow"), message))


def note(message: str) -> None:
    """A remark for the reader on stderr (stdout stays the command's output)."""
    err().print(Text.assemble(("note: ", "cyan"), message))


def text(message: str = "") -> None:
    out().print(message, markup=False, highlight=False, emoji=False)


# -- definition files: validate and next ----------------------------------------------------


def diagnostic_line(diagnostic: Diagnostic, severity: str = "error") -> str:
    """``path:line:col: field: message``; warnings say ``warning:`` before the message."""
    field = f" {diagnostic.field}:" if diagnostic.field else ""
    label = " warning:" if severity == "warning" else ""
    return f"{diagnostic.location()}:{field}{label} {diagnostic.message}"


def validation_report(report: FileReport) -> None:
    """Human output of one validated file: each finding, then one summary line."""
    for diagnostic in report.errors:
        text(diagnostic_line(diagnostic))
    for diagnostic in report.warnings:
        text(diagnostic_line(diagnostic, "warning"))
    if not report.ok:
        n = len(report.errors)
        text(f"{report.path}: invalid ({n} error{'s' if n != 1 else ''})")
        return
    summary = f"{report.path}: OK {report.workflow_id}"
    if report.warnings:
        n = len(report.warnings)
        summary += f" ({n} warning{'s' if n != 1 else ''})"
    if report.next_fires:
        summary += "; next fires: " + ", ".join(report.next_fires)
    elif report.definition is not None:
        trigger = report.definition.trigger_type
        summary += {"manual": "; no trigger (started by hand)",
                    "event": "; started by an event"}.get(trigger, "; no future fire")
    text(summary)


def missed_note(fire: Fire) -> str:
    """The note for an occurrence that does not fire, shown on the next one that does."""
    when = fire.local.strftime("%Y-%m-%d %H:%M")
    if fire.kind == "gap_skipped":
        return f"after skipping {when} (DST gap, dst.gap: skip)"
    return f"after losing {when} ({fire.note or 'a clock correction'})"


def fire_rows(fires: Iterable[Fire], count: int) -> list[dict[str, str | None]]:
    """The first ``count`` fires that happen, as ``{"at", "utc", "note"}``; an occurrence that
    does not fire (``include_skipped``) is noted on the next one that does."""
    from clockwf.timeutil import iso, iso_utc

    rows: list[dict[str, str | None]] = []
    pending: list[str] = []
    for fire in fires:
        if len(rows) >= count:
            break
        if fire.kind in ("gap_skipped", "gap_lost"):
            pending.append(missed_note(fire))
            continue
        notes = [*pending, *([fire.note] if fire.note and fire.kind != "normal" else [])]
        pending = []
        rows.append({"at": iso(fire.at), "utc": iso_utc(fire.at),
                     "note": "; ".join(notes) if notes else None})
    return rows


def occurrence_rows(occurrences: Iterable[Occurrence], count: int,
                    max_runs: int | None = None) -> list[dict[str, str | None]]:
    """:func:`fire_rows` through the planner's view: a calendar's moved and excluded
    occurrences, bounds, and the last run allowed by ``max_runs``."""
    from clockwf.cron import Fire
    from clockwf.timeutil import iso, iso_utc

    rows: list[dict[str, str | None]] = []
    pending: list[str] = []
    limit = count if max_runs is None else min(count, max_runs)
    for scanned, occ in enumerate(occurrences):
        if len(rows) >= limit or scanned >= 100_000:
            break
        if not occ.fires:
            when = occ.moved_from or occ.local
            pending.append((occ.note or "" if occ.cal == "merged" else
                            f"{when:%Y-%m-%d %H:%M} {occ.note}") if occ.cal else
                           missed_note(Fire(occ.local, occ.local.replace(tzinfo=None),
                                            occ.kind, occ.note)))
            continue
        notes = [*pending, *([occ.note] if occ.note and (occ.kind != "normal" or occ.cal)
                             else [])]
        pending = []
        if max_runs is not None and len(rows) + 1 == max_runs:
            notes.append(f"last run by max_runs ({max_runs})")
        rows.append({"at": iso(occ.local), "utc": iso_utc(occ.local),
                     "note": "; ".join(notes) if notes else None})
    return rows


def fires_table(title: str, rows: Sequence[dict[str, str | None]]) -> None:
    if not rows:
        text(f"{title}: none")
        return
    t = Table(title=title, title_justify="left", header_style="bold")
    t.add_column("#", justify="right")
    t.add_column("local time", no_wrap=True)
    t.add_column("UTC", no_wrap=True)
    t.add_column("note", overflow="fold")
    for i, row in enumerate(rows, 1):
        t.add_row(str(i), row["at"], row["utc"], row["note"] or "")
    out().print(t)


# -- definition sets: diff and import --------------------------------------------------------


def diff_plan(changes: Sequence[Any], refused: str | None) -> None:
    """Human output of ``clockwf diff``: one line per workflow, then each change in detail."""
    for change in changes:
        where = f"  ({change.path})" if change.path else ""
        text(f"{change.status:<10} {change.workflow_id}{where}")
    for change in changes:
        if change.status not in ("changed", "new", "removed"):
            continue
        detail = bool(change.diff or change.fires_before or change.fires_after or change.notes)
        if not detail:
            continue
        text()
        text(f"--- {change.status}: {change.workflow_id}")
        for note in change.notes:
            text(f"  {note}")
        if change.diff:
            sys.stdout.flush()
            out().file.write(change.diff)
        if change.fires_before is not None:
            text("  next fires before: " + (", ".join(change.fires_before) or "none"))
        if change.fires_after is not None:
            text("  next fires after:  " + (", ".join(change.fires_after) or "none"))
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.status] = counts.get(change.status, 0) + 1
    text()
    text(", ".join(f"{n} {status}" for status, n in counts.items()) or "no definitions")
    if refused:
        warning(refused)
