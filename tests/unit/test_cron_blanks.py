"""Cron fields are separated by ASCII spaces and tabs only. Any other character that is a space,
a format or a control character (a no-break space pasted from a web page, a zero-width space, a
byte-order mark) is refused, naming it and its column, by the parser and by `validate`, which
points at the character's own line and column in the file."""

from __future__ import annotations

import sys
import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from clockwf.cron import parse_cron
from clockwf.errors import CronError
from clockwf.validate import validate_source

SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=300)
NOW = datetime(2027, 1, 1, tzinfo=UTC)

# Every non-ASCII character Python takes for a space, and every Unicode space (Zs) and format
# character (Cf): U+00A0, U+1680, U+2000..U+200B, U+2028, U+202F, U+205F, U+3000, U+FEFF, ...
BLANKS = [c for c in map(chr, range(0x80, sys.maxunicode + 1))
          if not 0xD800 <= ord(c) <= 0xDFFF
          and (c.isspace() or unicodedata.category(c) in ("Zs", "Cf"))]
# ASCII control characters other than tab, between the fields.
CONTROLS = [chr(c) for c in [*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F]]
# What YAML can carry as itself in a one-line scalar (no line breaks, no non-printables).
YAML_BREAKS = "\x85\u2028\u2029"
IN_YAML = [c for c in BLANKS if c not in YAML_BREAKS and unicodedata.category(c) != "Cc"]

FIELDS = ["30", "2", "*", "*", "1-5"]


def test_the_character_sets_are_what_they_claim() -> None:
    assert {"\u00a0", "\u2000", "\u200a", "\u200b", "\u3000", "\ufeff", "\u2028"} <= set(BLANKS)
    assert len(BLANKS) > 150 and len(IN_YAML) > 140


def _expression(char: str, slot: int, replace: bool) -> tuple[str, int]:
    """FIELDS with ``char`` at separator ``slot`` (0: before the first field, 5: after the
    last), replacing the ASCII space there or next to it; returns it and the 1-based column."""
    text = ""
    column = 0
    for index, field in enumerate([*FIELDS, ""]):
        if index == slot:
            column = len(text) + 1
            text += char if replace or slot in (0, 5) else char + " "
        elif index > 0:
            text += " "
        text += field
    return text, column


def _refused(text: str) -> CronError:
    with pytest.raises(CronError) as caught:
        parse_cron(text)
    return caught.value


@SETTINGS
@given(st.sampled_from(BLANKS + CONTROLS), st.integers(0, 5), st.booleans())
def test_a_blank_that_is_no_ascii_space_or_tab_is_refused_with_name_and_column(
        char: str, slot: int, replace: bool) -> None:
    # A line end around the expression is not between fields (a YAML block scalar ends so).
    assume(not (char in "\r\n" and slot in (0, 5)))
    text, column = _expression(char, slot, replace)
    assert text[column - 1] == char
    error = _refused(text)
    name = unicodedata.name(char, "")
    assert f"U+{ord(char):04X}" in error.message
    assert name in error.message
    assert f"column {column}" in error.message and error.column == column
    assert "ASCII spaces and tabs" in error.message


@pytest.mark.parametrize("char", BLANKS, ids=lambda c: f"U+{ord(c):04X}")
def test_every_unicode_blank_is_refused_inside_a_macro_too(char: str) -> None:
    error = _refused(f"@daily{char}")
    assert error.column == 7 and f"U+{ord(char):04X}" in error.message


@SETTINGS
@given(st.lists(st.text(alphabet=" \t", min_size=1, max_size=4), min_size=4, max_size=4),
       st.text(alphabet=" \t\r\n", max_size=3), st.text(alphabet=" \t\r\n", max_size=3))
def test_ascii_spaces_and_tabs_separate_fields(separators: list[str], before: str,
                                               after: str) -> None:
    text = before + FIELDS[0] + "".join(s + f for s, f in zip(separators, FIELDS[1:],
                                                                strict=True)) + after
    assert parse_cron(text) == parse_cron(" ".join(FIELDS))


def test_a_letter_outside_ascii_is_still_judged_by_its_field() -> None:
    # Not a blank: the field's own message, as before.
    assert "day-of-week field" in _refused("30 2 * * \u00e9").message


STYLES = {
    "plain": "{}",
    "single-quoted": "'{}'",
    "double-quoted": '"{}"',
    "block": "|\n    {}",
    "folded": ">-\n    {}",
}


@SETTINGS
@given(st.sampled_from(IN_YAML), st.integers(0, 5), st.sampled_from(sorted(STYLES)))
def test_validate_points_at_the_character_in_the_file(char: str, slot: int, style: str) -> None:
    expression, _column = _expression(char, slot, replace=True)
    source = (f"id: blank\ntrigger:\n  type: recurring\n  # {FIELDS}\n"
              f"  cron: {STYLES[style].format(expression)}\nsteps:\n  - run: 'true'\n")
    index = source.index(char)
    line = source.count("\n", 0, index) + 1
    column = index - (source.rfind("\n", 0, index) + 1) + 1
    report = validate_source(source, "blank.yaml", NOW)
    assert not report.ok
    (error,) = report.errors
    assert (error.line, error.column, error.field) == (line, column, "trigger.cron"), error
    assert f"U+{ord(char):04X}" in error.message
    assert str(error).startswith(f"blank.yaml:{line}:{column}: trigger.cron: U+{ord(char):04X}")


def test_an_escaped_blank_points_at_the_value() -> None:
    source = ('id: blank\ntrigger:\n  type: recurring\n  cron: "30 2 * *\\u00a0*"\n'
              "steps:\n  - run: 'true'\n")
    (error,) = validate_source(source, "blank.yaml", NOW).errors
    assert (error.line, error.column) == (4, 9)
    assert "U+00A0 NO-BREAK SPACE at column 9" in error.message
