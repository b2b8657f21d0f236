"""Fault tests: kill -9, store outages, clock jumps, bad input, publish atomicity.

They run on both stores: a SQLite file and PostgreSQL (``CLOCKWF_TEST_PG_URL``, default
``postgresql://postgres@127.0.0.1:5432/postgres``; a fresh database per test). Without a server
the PostgreSQL cases skip, or fail when ``CLOCKWF_REQUIRE_PG=1`` (as in CI). The long versions
run with ``CLOCKWF_FAULTS_FULL=1``.
"""

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


def require_pg(reason: str) -> None:
    """Skip, or fail under CLOCKWF_REQUIRE_PG=1."""
    if os.environ.get("CLOCKWF_REQUIRE_PG") == "1":
        pytest.fail(f"PostgreSQL is required (CLOCKWF_REQUIRE_PG=1) but {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


def _admin() -> Any:
    try:
        import psycopg
    except ImportError:
        require_pg("psycopg is not installed (the postgres extra)")
    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        require_pg(f"cannot connect to {PG_ADMIN_URL}: {exc}")


@pytest.fixture
def new_pg_database() -> Iterator[Callable[[], str]]:
    """A factory of fresh PostgreSQL databases (URLs), dropped after the test."""
    from psycopg import sql

    admin = _admin()
    made: list[str] = []

    def make() -> str:
        name = f"clockwf_fault_{uuid.uuid4().hex[:12]}"
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        made.append(name)
        return urlsplit(PG_ADMIN_URL)._replace(path="/" + name).geturl()

    yield make
    for name in made:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
    admin.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty store of the backend under test: a SQLite path or a fresh PG database."""
    if backend == "sqlite":
        return str(tmp_path / "clockwf.db")
    return str(request.getfixturevalue("new_pg_database")())


@pytest.fixture
def namespace() -> str:
    return f"f-{uuid.uuid4().hex[:10]}"
