"""The PostgreSQL server the tests use (``CLOCKWF_TEST_PG_URL``, default
``postgresql://postgres@127.0.0.1:5432/postgres``): fresh databases ``clockwf_test_<random>``,
dropped afterwards. Without a server the PostgreSQL cases skip, or fail when
``CLOCKWF_REQUIRE_PG=1`` (as in CI). Shared by the integration and the fault tests' conftest."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

PG_ADMIN_URL = os.environ.get("CLOCKWF_TEST_PG_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

_pg_problem: list[str] = []  # the reason PostgreSQL cannot be used, once known


def require_pg(reason: str) -> None:
    """Skip, or fail under CLOCKWF_REQUIRE_PG=1."""
    if os.environ.get("CLOCKWF_REQUIRE_PG") == "1":
        pytest.fail(f"PostgreSQL is required (CLOCKWF_REQUIRE_PG=1) but {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


def pg_admin() -> Any:
    """An autocommit connection to the admin database (skips or fails without a server)."""
    if _pg_problem:
        require_pg(_pg_problem[0])
    try:
        import psycopg
    except ImportError:
        _pg_problem.append("psycopg is not installed (the postgres extra)")
        require_pg(_pg_problem[0])
    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        _pg_problem.append(f"cannot connect to {PG_ADMIN_URL}: {exc}")
        require_pg(_pg_problem[0])


def pg_url(dbname: str) -> str:
    return urlsplit(PG_ADMIN_URL)._replace(path="/" + dbname).geturl()


def create_database(admin: Any) -> str:
    """A fresh empty database; its name."""
    from psycopg import sql

    name = f"clockwf_test_{uuid.uuid4().hex[:12]}"
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_database(admin: Any, name: str) -> None:
    from psycopg import sql

    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
        sql.Identifier(name)))


@pytest.fixture
def new_pg_database() -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty PostgreSQL databases (their URLs), dropped after the test."""
    admin = pg_admin()
    made: list[str] = []

    def make() -> str:
        made.append(create_database(admin))
        return pg_url(made[-1])

    yield make
    for name in made:
        drop_database(admin, name)
    admin.close()


@pytest.fixture(scope="module")
def pg_module_url() -> Iterator[str]:
    """One fresh PostgreSQL database for the whole test module."""
    admin = pg_admin()
    name = create_database(admin)
    try:
        yield pg_url(name)
    finally:
        drop_database(admin, name)
        admin.close()



def empty_store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest,
                    name: str = "clockwf.db") -> str:
    """An empty store of its own: a SQLite file ``name`` in ``tmp_path``, or a fresh
    PostgreSQL database (dropped after the test)."""
    if backend == "sqlite":
        return str(tmp_path / name)
    return str(request.getfixturevalue("new_pg_database")())
