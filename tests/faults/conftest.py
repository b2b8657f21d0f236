"""Fault tests: kill -9, store outages, clock jumps, bad input, publish atomicity.

They run on both stores: a SQLite file and PostgreSQL (``CLOCKWF_TEST_PG_URL``, default
``postgresql://postgres@127.0.0.1:5432/postgres``; a fresh database per test). Without a server
the PostgreSQL cases skip, or fail when ``CLOCKWF_REQUIRE_PG=1`` (as in CI). The long versions
run with ``CLOCKWF_FAULTS_FULL=1``.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.integration.pg_support import BACKENDS, empty_store_url, new_pg_database  # noqa: F401


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty store of the backend under test: a SQLite path or a fresh PG database."""
    return empty_store_url(backend, tmp_path, request)


@pytest.fixture
def namespace() -> str:
    return f"f-{uuid.uuid4().hex[:10]}"
