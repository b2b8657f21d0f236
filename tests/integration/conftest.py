"""Integration tests run against real stores: a SQLite file and a PostgreSQL server.

The fixture ``store`` is parametrized over both backends, so every test that takes it is one
contract test per store. PostgreSQL comes from ``CLOCKWF_TEST_PG_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``): each test module gets a fresh database
``clockwf_test_<random>``, dropped afterwards, and each test its own namespace in it. When the
server does not answer, the PostgreSQL tests are skipped, or fail when ``CLOCKWF_REQUIRE_PG=1``.

Helpers live in the ``tests.integration.*_support`` modules; import them from there, never from
here.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from clockwf.store import Store, open_store

from .pg_support import (  # noqa: F401 (fixtures)
    BACKENDS,
    empty_store_url,
    new_pg_database,
    pg_module_url,
)
from .process_support import Race, python_process, run_race


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of the store under test: a SQLite file, or the module's PostgreSQL database."""
    if backend == "sqlite":
        return str(tmp_path / "clockwf.db")
    return str(request.getfixturevalue("pg_module_url"))


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of an empty database of its own (migration tests)."""
    return empty_store_url(backend, tmp_path, request, "fresh.db")


@pytest.fixture
def namespace() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def open_stores(store_url: str, namespace: str) -> Iterator[Callable[..., Store]]:
    """Opens more stores on the same database (same namespace unless given); closes them all."""
    opened: list[Store] = []

    def make(ns: str | None = None, **kwargs: Any) -> Store:
        s = open_store(store_url, ns or namespace, **kwargs)
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def store(open_stores: Callable[..., Store]) -> Store:
    """The store under test, in a namespace of its own."""
    return open_stores()


@pytest.fixture
def race() -> Race:
    """:func:`run_race`: real processes released at the same instant."""
    return run_race


@pytest.fixture
def spawn() -> Callable[..., subprocess.Popen[str]]:
    """:func:`python_process`."""
    return python_process
