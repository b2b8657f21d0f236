"""Several processes and connections on one store: the database arbitrates, nothing runs twice."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from clockwf.errors import StoreUnavailable
from clockwf.store import Store, open_store
from clockwf.store.base import NewRun, ScheduleAdvance

T0 = datetime(2027, 1, 1, tzinfo=UTC)
ONLY_PG = [pytest.param("postgresql", marks=pytest.mark.postgres)]

INSERT_RACER = """
import json, random, sys
from datetime import UTC, datetime
from clockwf.store import open_store
from clockwf.store.base import NewRun

url, ns, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = open_store(url, ns)
keys = [f"recurring:wf{i % 7}:2027-01-01T{i // 60:02d}:{i % 60:02d}:00Z" for i in range(300)]
random.Random(seed).shuffle(keys)  # each racer in its own order
now = datetime.now(UTC)
runs = [NewRun(fire_key=k, workflow_id=k.split(":")[1], workflow_version=1,
               trigger_type="recurring", payload="{}", metadata="{}", created_at=now)
        for k in keys]
print("ready", flush=True)
sys.stdin.readline()
with store.transaction() as tx:
    created = tx.insert_runs(runs)
store.close()
print(json.dumps(created))
"""


def test_racing_processes_launch_each_fire_key_once(store: Store, store_url: str,
                                                    race: Callable[..., list[str]]) -> None:
    outputs = race(INSERT_RACER, [[store_url, store.ns, str(seed)] for seed in range(4)])
    results = [json.loads(out) for out in outputs]
    won = [key for created in results for key in created]
    assert len(won) == 300 and len(set(won)) == 300  # every key exactly once, over all racers
    run_ids = [run_id for created in results for run_id in created.values()]
    assert len(set(run_ids)) == 300
    with store.read() as tx:
        assert tx.run_status_counts() == {"queued": 300}


def _due(store: Store, n: int) -> None:
    with store.transaction() as tx:
        for i in range(n):
            tx.upsert_schedule({"workflow_id": f"wf{i:02d}", "version": 1,
                                "trigger_type": "recurring", "cron": "* * * * *",
                                "timezone": "UTC", "status": "scheduled",
                                "next_fire_at": T0 + timedelta(seconds=i), "updated_at": T0})


def test_a_due_schedule_is_claimed_by_one_daemon(store: Store,
                                                  open_stores: Callable[..., Store]) -> None:
    """Daemon B claims while daemon A holds the rows and then advances them: B gets nothing
    (PostgreSQL: SKIP LOCKED; SQLite: B waits for A's write lock, then sees the advance)."""
    other = open_stores()
    _due(store, 3)
    now = T0 + timedelta(minutes=1)
    seen_by_b: list[list[str]] = []
    with store.transaction() as tx:
        mine = tx.claim_due(now, 10)
        b = threading.Thread(target=lambda: seen_by_b.append(_claim_ids(other, now)))
        b.start()
        tx.advance_schedules([ScheduleAdvance(r["workflow_id"], now + timedelta(hours=1),
                                              now + timedelta(hours=1), "scheduled", None,
                                              "k", now, now) for r in mine])
    b.join(30)
    assert len(mine) == 3 and seen_by_b == [[]]


def _claim_ids(store: Store, now: datetime, limit: int = 10) -> list[str]:
    with store.transaction() as tx:
        return [r["workflow_id"] for r in tx.claim_due(now, limit)]


@pytest.mark.parametrize("backend", ONLY_PG, indirect=True)
def test_claim_due_skip_locked_gives_disjoint_rows(store: Store,
                                                   open_stores: Callable[..., Store]) -> None:
    other = open_stores()
    _due(store, 10)
    now = T0 + timedelta(minutes=1)
    with store.transaction() as tx1, other.transaction() as tx2:
        first = [r["workflow_id"] for r in tx1.claim_due(now, 4)]
        second = [r["workflow_id"] for r in tx2.claim_due(now, 10)]  # does not wait
    assert first == [f"wf{i:02d}" for i in range(4)]
    assert second == [f"wf{i:02d}" for i in range(4, 10)]


@pytest.mark.parametrize("backend", ONLY_PG, indirect=True)
def test_claim_runs_skip_locked_gives_disjoint_runs(store: Store,
                                                    open_stores: Callable[..., Store]) -> None:
    other = open_stores()
    with store.transaction() as tx:
        created = tx.insert_runs([NewRun(fire_key=f"k{i}", workflow_id=f"wf{i}",
                                         workflow_version=1, trigger_type="manual",
                                         payload="{}", metadata="{}", created_at=T0)
                                  for i in range(6)])
    with store.transaction() as tx1, other.transaction() as tx2:
        a = [r["run_id"] for r in tx1.claim_runs(owner="a", now=T0, lease_seconds=300, limit=2)]
        b = [r["run_id"] for r in tx2.claim_runs(owner="b", now=T0, lease_seconds=300, limit=9)]
    ids = sorted(created.values())
    assert a == ids[:2] and b == ids[2:]


def _terminate_clockwf_connections(store_url: str) -> int:
    import psycopg

    with psycopg.connect(store_url, autocommit=True, application_name="clockwf-test") as admin:
        rows = admin.execute(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s",
            (f"clockwf:{os.getpid()}",)).fetchall()
        # pg_terminate_backend only signals: wait until the server has really dropped them.
        pids = [row[0] for row in rows]
        deadline = time.monotonic() + 10
        while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)",
                            (pids,)).fetchone() != (0,):
            assert time.monotonic() < deadline, "the terminated backends did not exit"
            time.sleep(0.01)
    return len(rows)


@pytest.mark.parametrize("backend", ONLY_PG, indirect=True)
def test_pool_recovers_after_the_server_drops_its_connections(store: Store,
                                                              store_url: str) -> None:
    with store.transaction() as tx:
        tx.bump_changes()
    assert store.wait_for_change(None, 0) == 1  # opens the LISTEN connection too
    assert _terminate_clockwf_connections(store_url) >= 2
    with store.read() as tx:  # a dead pooled connection is replaced, not handed out
        assert tx.change_counter() == 1
    try:  # the dead listener may fail once, with the store's error ...
        store.wait_for_change(1, 0.05)
    except StoreUnavailable as exc:
        assert "cannot reach PostgreSQL at" in str(exc)
    bumped: list[int] = []
    waiter = threading.Thread(target=lambda: bumped.append(store.wait_for_change(1, 30)))
    waiter.start()  # ... and the next call listens again
    with store.transaction() as tx:
        tx.bump_changes()
    waiter.join(30)
    assert bumped == [2]


class _Proxy:
    """A TCP relay to the PostgreSQL server that can be stopped and started again: to the
    store, a server restart, without touching the real server."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._open: list[socket.socket] = []

    def start(self) -> None:
        self._server = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, args=(self._server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        for s in (self._server, *self._open):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        self._open = []


@pytest.mark.parametrize("backend", ONLY_PG, indirect=True)
def test_store_recovers_after_a_server_restart(store_url: str, namespace: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    target = urlsplit(store_url)
    proxy = _Proxy((target.hostname or "127.0.0.1", target.port or 5432))
    proxy.start()
    monkeypatch.setenv("CLOCKWF_PG_TIMEOUT", "2")
    via_proxy = target._replace(netloc=f"{target.username}@127.0.0.1:{proxy.port}").geturl()
    store = open_store(via_proxy, namespace)
    try:
        with store.transaction() as tx:
            tx.bump_changes()
        proxy.stop()  # the server goes away: a clear error, within the timeout
        unreachable = r"cannot reach PostgreSQL at 127\.0\.0\.1:\d+/\w+: .*refused"
        with pytest.raises(StoreUnavailable, match=unreachable), store.read() as tx:
            tx.change_counter()
        proxy.start()  # ... and comes back on the same port: the next attempt works
        with store.read() as tx:
            assert tx.change_counter() == 1
    finally:
        store.close()
        proxy.stop()


@pytest.mark.parametrize("backend", ONLY_PG, indirect=True)
def test_connection_lost_inside_a_transaction(store: Store, store_url: str) -> None:
    import psycopg

    with pytest.raises(StoreUnavailable, match="cannot reach PostgreSQL at"), \
            store.transaction() as tx:
        tx.bump_changes()
        pid = tx.db.conn.info.backend_pid  # type: ignore[attr-defined]
        with psycopg.connect(store_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        tx.bump_changes()
    with store.read() as tx:  # nothing was committed, and the store works on
        assert tx.change_counter() == 0
