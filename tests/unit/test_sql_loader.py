"""The named-SQL loader: queries both dialects share are written once, in ``:name`` style, and
turned into psycopg's ``%(name)s`` for PostgreSQL without touching strings, comments or casts."""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clockwf.errors import StoreError
from clockwf.store.common import load_queries, merge_queries, parse_queries, pyformat_params

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
TEXT = st.text(alphabet=st.sampled_from("ab :%_x9'\"*/-"), max_size=12)


def _quoted(quote: str) -> Callable[[str], tuple[str, str]]:
    """A string (``'``) or a quoted name (``"``) around ``body``, the quote doubled inside."""
    def piece(body: str) -> tuple[str, str]:
        quoted = quote + body.replace(quote, quote * 2) + quote
        return quoted, quoted.replace("%", "%%")
    return piece


def _line_comment(body: str) -> tuple[str, str]:
    line = "-- " + body.replace("\n", " ") + "\n"
    return line, line.replace("%", "%%")


def _block_comment(body: str) -> tuple[str, str]:
    block = "/* " + body.replace("*/", "* /") + " */"
    return block, block.replace("%", "%%")


# Each piece: (SQLite text, the PostgreSQL text it must become).
PIECES = st.one_of(
    NAMES.map(lambda n: (f":{n}", f"%({n})s")),
    NAMES.map(lambda n: (f"x::{n}", f"x::{n}")),            # a cast is never a parameter
    NAMES.map(lambda n: (f"{n}", f"{n}")),                  # a plain word
    st.sampled_from(["=", ",", "(", ")", "<", "||", "5", "IS NULL"]).map(lambda t: (t, t)),
    st.just(("%", "%%")),                                   # the modulo operator
    TEXT.map(_quoted("'")),
    TEXT.map(_quoted('"')),
    TEXT.map(_line_comment),
    TEXT.map(_block_comment),
)


@given(st.lists(PIECES, max_size=20))
def test_pyformat_turns_exactly_the_parameters(pieces: list[tuple[str, str]]) -> None:
    sqlite = " ".join(a for a, _ in pieces)
    postgresql = " ".join(b for _, b in pieces)
    assert pyformat_params(sqlite) == postgresql


@given(st.lists(PIECES, max_size=20))
def test_pyformat_leaves_nothing_for_psycopg_to_misread(pieces: list[tuple[str, str]]) -> None:
    out = pyformat_params(" ".join(a for a, _ in pieces))
    # every % is a placeholder %(name)s or a doubled %%; nothing else reaches psycopg
    assert re.fullmatch(r"(?:[^%]|%%|%\(\w+\)s)*", out)


def test_examples() -> None:
    sql = ("SELECT ':x', x::int, :a, 5 % 2, '%' -- :c %\n"
           "FROM t WHERE \"a:b\" = :b /* :d */ AND c = ANY(:list)")
    assert pyformat_params(sql) == (
        "SELECT ':x', x::int, %(a)s, 5 %% 2, '%%' -- :c %%\n"
        "FROM t WHERE \"a:b\" = %(b)s /* :d */ AND c = ANY(%(list)s)")


def test_a_name_defined_in_both_files_is_refused() -> None:
    common = "-- name: get_run\nSELECT * FROM runs WHERE run_id = :run_id\n"
    own = "-- name: get_run\nSELECT 1\n"
    for backend in ("sqlite", "postgresql"):
        with pytest.raises(StoreError, match=r"postgresql|sqlite") as caught:
            merge_queries(backend, common, own)
        assert "get_run" in str(caught.value)
        assert "common/queries.sql" in str(caught.value)


def test_merge_translates_only_the_shared_queries_and_only_for_postgresql() -> None:
    common = "-- name: shared\nSELECT :a\n"
    own = "-- name: mine\nSELECT %(b)s\n"
    assert merge_queries("postgresql", common, own) == {"shared": "SELECT %(a)s",
                                                       "mine": "SELECT %(b)s"}
    assert merge_queries("sqlite", common, "-- name: mine\nSELECT :b\n") == {
        "shared": "SELECT :a", "mine": "SELECT :b"}


def test_every_shared_query_is_loaded_once_for_each_store() -> None:
    shared_file = resources.files("clockwf.store").joinpath("sql", "common", "queries.sql")
    shared = parse_queries(shared_file.read_text("utf-8"), "common/queries.sql")
    sqlite, postgresql = load_queries("sqlite"), load_queries("postgresql")
    assert len(shared) > 40
    for name, text in shared.items():
        assert sqlite[name] == text
        assert postgresql[name] == pyformat_params(text)
        assert ":" not in re.sub(r"--[^\n]*|'[^']*'", "", postgresql[name]), name
