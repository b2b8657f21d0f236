"""SQL written once in ``:name`` style means the same on a real PostgreSQL once translated."""

from __future__ import annotations

import psycopg

from clockwf.store.common import pyformat_params


def test_translated_sql_means_the_same_on_postgresql(pg_module_url: str) -> None:
    sql = ("SELECT :a::text AS a, ':b %' AS s, '7'::int AS n, 7 % 4 AS m, \"x:y\".v AS q\n"
           "-- a comment with :c and a % sign\n"
           "FROM (SELECT :b::text AS v) AS \"x:y\" /* :d % */ WHERE :a::text IS NOT NULL")
    with psycopg.connect(pg_module_url) as conn:
        row = conn.execute(pyformat_params(sql), {"a": "A", "b": "B"}).fetchone()
    assert row == ("A", ":b %", 7, 3, "B")
