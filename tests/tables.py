"""Expectations written as a text table: one case a line, cells split by ``|``; blank lines and
``#`` comment lines are passed over. Tests of several tiers keep their hand-written cases so."""

from __future__ import annotations


def table_rows(text: str, cells: int) -> list[list[str]]:
    """The rows of ``text``, each its ``cells`` stripped cells (a row with another count fails,
    naming the row)."""
    rows = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        row = [cell.strip() for cell in line.split("|")]
        assert len(row) == cells, f"{len(row)} cells, not {cells}: {line!r}"
        rows.append(row)
    return rows
