"""Integration tests run against real stores: a SQLite file and a PostgreSQL server.

The fixture ``store`` is parametrized over both backends, so every test that takes it is one
contract test per store. PostgreSQL comes from ``CLOCKWF_TEST_PG_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``): each test module gets a fresh database
``clockwf_test_<random>``, dropped afterwards, and each test its own namespace in it. When the
server does not answer, the PostgreSQL tests are skipped, or fail when ``CLOCKWF_REQUIRE_PG=1``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from clockwf.store import Store, open_store
from tests.integration.pg_support import (  # noqa: F401 (fixtures)
    BACKENDS,
    PG_ADMIN_URL,
    empty_store_url,
    new_pg_database,
    pg_admin,
    pg_module_url,
    pg_url,
)

ROOT = Path(__file__).resolve().parents[2]


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


def python_process(code: str, *args: str) -> subprocess.Popen[str]:
    """Start ``python -c code args...`` with clockwf importable; pipes on all three streams."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.Popen([sys.executable, "-c", code, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def run_race(code: str, args_per_process: list[list[str]], timeout: float = 120) -> list[str]:
    """Run one process per argument list; each prints ``ready``, waits for a line on stdin,
    then does its work. All are released at once; returns their stdout (after ``ready``)."""
    procs = [python_process(code, *args) for args in args_per_process]
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            assert line.strip() == "ready", (line, p.stderr.read() if p.stderr else "")
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outputs = []
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            assert p.returncode == 0, err
            outputs.append(out)
        return outputs
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


Race = Callable[..., list[str]]


@pytest.fixture
def race() -> Race:
    """:func:`run_race`: real processes released at the same instant."""
    return run_race


@pytest.fixture
def spawn() -> Callable[..., subprocess.Popen[str]]:
    """:func:`python_process`."""
    return python_process
