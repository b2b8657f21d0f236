"""Driver errors become clockwf errors at the store boundary, with messages a user can act on."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from clockwf.errors import InvalidInput, StoreError, StoreUnavailable
from clockwf.store import open_store

from .process_support import SQLITE_LOCK_HOLDER


def test_sqlite_locked_by_another_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          spawn: Callable[..., subprocess.Popen[str]]) -> None:
    path = str(tmp_path / "clockwf.db")
    open_store(path).close()
    monkeypatch.setenv("CLOCKWF_BUSY_TIMEOUT_MS", "200")
    store = open_store(path)
    holder = spawn(SQLITE_LOCK_HOLDER, path)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreUnavailable) as info, store.transaction():
            pass
        assert str(info.value) == (f"the store {os.path.abspath(path)} is locked by another "
                                   "process (waited 0.2 s)")
        assert info.value.exit_code == 3
        with store.read() as tx:  # WAL: readers are not blocked by the writer
            assert tx.change_counter() == 0
    finally:
        holder.communicate("go\n", timeout=30)
        store.close()
    with open_store(path) as again, again.transaction() as tx:  # released: usable again
        tx.bump_changes()


READ_ONLY_OPENER = """
import sys
from clockwf.errors import ClockwfError
from clockwf.store import open_store

try:
    store = open_store(sys.argv[1])
    with store.transaction() as tx:
        tx.bump_changes()
except ClockwfError as exc:
    print(type(exc).__name__, exc.exit_code)
    print(exc)
else:
    print("no error")
"""


@pytest.mark.parametrize("read_only", ["file", "directory"])
def test_sqlite_read_only_store(tmp_path: Path, read_only: str) -> None:
    """A store this process may not write. Root writes anything, so as root the opener runs
    with the capabilities that override file modes dropped (setpriv)."""
    path = tmp_path / "clockwf.db"
    open_store(str(path)).close()
    path.chmod(0o444)
    if read_only == "directory":
        tmp_path.chmod(0o555)
    prefix = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.fail("running as root without setpriv (util-linux) to drop CAP_DAC_OVERRIDE")
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner"]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    try:
        proc = subprocess.run([*prefix, sys.executable, "-c", READ_ONLY_OPENER, str(path)],
                              capture_output=True, text=True, env=env, timeout=60, check=False)
    finally:
        tmp_path.chmod(0o755)
        path.chmod(0o644)
    assert proc.returncode == 0, proc.stderr
    kind, message = proc.stdout.splitlines()[:2]
    assert kind == "StoreUnavailable 3"
    if read_only == "file":
        assert message == (f"the store {path} is read-only: clockwf needs write access to the "
                           "file and to its directory (SQLite writes -wal and -shm files "
                           "beside it)")
    else:
        assert str(path) in message and ("read-only" in message or "cannot open" in message)


def test_sqlite_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir" / "clockwf.db"
    with pytest.raises(StoreUnavailable, match=r"cannot open the store .*directory exists"):
        open_store(str(path))


def test_sqlite_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"this is not a database, just text " * 100)
    with pytest.raises(StoreError, match="is not a SQLite database"):
        open_store(str(path))


def test_sqlite_missing_file_without_create(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    with pytest.raises(StoreError, match="there is no clockwf store at"):
        open_store(str(path), create=False)
    assert not path.exists()


def test_unreachable_postgresql_port() -> None:
    with pytest.raises(StoreUnavailable) as info:
        open_store("postgresql://clockwf:s3cret@127.0.0.1:1/clockwf")
    message = str(info.value)
    assert message.startswith("cannot reach PostgreSQL at 127.0.0.1:1/clockwf: ")
    assert "refused" in message.lower()
    assert "s3cret" not in message
    assert info.value.exit_code == 3


@pytest.mark.postgres
def test_missing_postgresql_database(new_pg_database: Callable[[], str]) -> None:
    url = new_pg_database()
    missing = url.rsplit("/", 1)[0] + "/clockwf_no_such_database"
    with pytest.raises(StoreUnavailable, match='clockwf_no_such_database" does not exist'):
        open_store(missing)


def test_bad_timeout_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOCKWF_BUSY_TIMEOUT_MS", "soon")
    with pytest.raises(InvalidInput, match="CLOCKWF_BUSY_TIMEOUT_MS='soon': expected a positive"):
        open_store(str(tmp_path / "a.db"))
