"""``clockwf db status`` and ``clockwf db upgrade`` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from clockwf.store import open_store
from clockwf.store.common import load_migrations

from .cli_support import Clockwf

CHAIN = [(m.version, m.name) for m in load_migrations("sqlite")]   # the files decide
LATEST = CHAIN[-1][0]


@pytest.mark.slow
def test_upgrade_creates_a_store_and_status_reports_it(clockwf: Clockwf, tmp_path: Path) -> None:
    db = str(tmp_path / "clockwf.db")
    missing = clockwf("db", "status", "--db", db)
    assert missing.code == 1 and "there is no clockwf store at" in missing.err
    assert not Path(db).exists()

    upgraded = clockwf("db", "upgrade", "--db", db, "--format", "json")
    assert upgraded.code == 0, upgraded.err
    assert CHAIN[:3] == [(1, "initial"), (2, "runs"), (3, "execution")]
    assert upgraded.json() == {
        "applied": [{"version": v, "name": name} for v, name in CHAIN],
        "current": LATEST, "latest": LATEST}

    status = clockwf("db", "status", "--db", f"sqlite:///{db}", "--format", "json")
    assert status.code == 0, status.err
    doc = status.json()
    assert list(doc) == ["backend", "url", "current", "latest", "applied", "pending"]
    assert (doc["backend"], doc["url"], doc["current"], doc["latest"], doc["pending"]) == \
        ("sqlite", "sqlite:///" + db, LATEST, LATEST, [])
    assert [(m["version"], m["name"]) for m in doc["applied"]] == CHAIN
    assert all(m["applied_at"].endswith("+00:00") for m in doc["applied"])

    human = clockwf("db", "status", "--db", db)
    assert human.code == 0 and "up to date" in human.out and CHAIN[-1][1] in human.out


@pytest.mark.slow
def test_a_store_behind_is_upgraded(clockwf: Clockwf, tmp_path: Path) -> None:
    db = str(tmp_path / "old.db")
    with open_store(db, check_schema=False) as store:
        store.migrator.upgrade(target=1)  # type: ignore[attr-defined]
    status = clockwf("db", "status", "--db", db, "--format", "json")
    assert status.code == 0
    assert (status.json()["current"], status.json()["pending"]) == \
        (1, [{"version": v, "name": name} for v, name in CHAIN[1:]])
    human = clockwf("db", "status", "--db", db)
    assert "run `clockwf db upgrade`" in human.out
    upgraded = clockwf("db", "upgrade", "--db", db)
    assert upgraded.code == 0
    assert upgraded.out.splitlines() == [
        *(f"applied migration {v} {name}" for v, name in CHAIN[1:]),
        f"schema version {LATEST}: up to date"]
    again = clockwf("db", "upgrade", "--db", db)
    assert again.code == 0 and again.out.strip() == f"schema version {LATEST}: up to date"


def test_unreachable_postgresql_exits_3(clockwf: Clockwf) -> None:
    result = clockwf("db", "status", "--db", "postgresql://me:hunter2@127.0.0.1:1/clockwf")
    assert result.code == 3
    assert "cannot reach PostgreSQL at 127.0.0.1:1/clockwf" in result.err
    assert "hunter2" not in result.err + result.out


def test_bad_namespace_and_url(clockwf: Clockwf, tmp_path: Path) -> None:
    result = clockwf("db", "status", "--db", str(tmp_path / "x.db"), "--namespace", "Team A")
    assert result.code == 1 and "invalid namespace 'Team A'" in result.err
    result = clockwf("db", "status", "--db", "mysql://host/db")
    assert result.code == 1 and "unsupported store URL" in result.err
