"""open_store: every URL form reaches the right store, with the path it names."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from clockwf.errors import InvalidInput, StoreError, StoreUnavailable
from clockwf.store import open_store


def test_default_is_clockwf_db_in_the_working_directory(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url in (None, ""):
        with open_store(url) as store:
            assert (store.backend, store.ns) == ("sqlite", "default")
            assert store.url == f"sqlite:///{tmp_path}/clockwf.db"
    assert (tmp_path / "clockwf.db").exists()


@pytest.mark.parametrize("form", ["plain", "relative-url", "absolute-url"])
def test_sqlite_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    url = {"plain": "sub/a.db", "relative-url": "sqlite:///sub/a.db",
           "absolute-url": f"sqlite:///{tmp_path}/sub/a.db"}[form]
    with open_store(url, "team-a") as store:
        assert store.url == f"sqlite:///{tmp_path}/sub/a.db" and store.ns == "team-a"
    assert (tmp_path / "sub" / "a.db").exists()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite://host/a.db",
                                 "sqlite:///:memory:", ":memory:", "file:a.db?mode=memory",
                                 "mysql://u@h/db", "https://example.com/a.db"])
def test_refused_urls(url: str) -> None:
    with pytest.raises(InvalidInput):
        open_store(url)


def test_invalid_namespace_is_refused_before_opening(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="invalid namespace"):
        open_store(str(tmp_path / "a.db"), "Not Valid")
    assert not (tmp_path / "a.db").exists()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "PostgreSQL"])
def test_postgresql_schemes(scheme: str) -> None:
    with pytest.raises(StoreUnavailable, match=r"cannot reach PostgreSQL at 127\.0\.0\.1:1/db"):
        open_store(f"{scheme}://u:pw@127.0.0.1:1/db")


def test_missing_postgres_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now fails
    monkeypatch.delitem(sys.modules, "clockwf.store.postgres", raising=False)
    with pytest.raises(StoreError, match=r"postgres extra, pip install 'clockwf\[postgres\]'"):
        open_store("postgresql://u@127.0.0.1/db")


def test_malformed_postgresql_url() -> None:
    with pytest.raises(InvalidInput, match="invalid PostgreSQL URL"):
        open_store("postgresql://u:pw@127.0.0.1/db?nosuchoption=1")
