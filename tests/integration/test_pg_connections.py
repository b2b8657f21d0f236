"""A daemon holds a bounded number of PostgreSQL connections, sized from its own threads:
its pool (workers + 4: the loop, the tick's batch writer, the claimer, the lease keeper and one
per worker) plus its LISTEN connection. Counted in pg_stat_activity by application_name while
a daemon with --workers 8 executes 50 runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from clockwf.daemon import store_connections
from clockwf.store import Store, open_store

from .executor_support import publish_def, start, wait_for
from .process_support import clockwf_process, stop_process

ONLY_PG = [pytest.param("postgresql", marks=pytest.mark.postgres)]
WORKERS = 8
RUNS = 50


@pytest.mark.parametrize("backend", ONLY_PG, indirect=True)
def test_a_daemon_never_holds_more_connections_than_its_bound(store: Store,
                                                               store_url: str) -> None:
    import psycopg

    bound = store_connections(WORKERS) + 1      # the pool, and the LISTEN connection
    assert bound == WORKERS + 5
    wid = publish_def(store, [{"run": "sleep 0.2"}, {"run": "true"}])
    ids = [start(store, wid) for _ in range(RUNS)]
    daemon = clockwf_process(["daemon", "--db", store_url, "--namespace", store.ns,
                              "--workers", str(WORKERS), "--max-sleep", "1s"])
    name = f"clockwf-daemon:{daemon.pid}"
    counts: list[int] = []
    try:
        with psycopg.connect(store_url, autocommit=True) as admin:
            def finished() -> bool:
                counts.append(admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                    (name,)).fetchone()[0])  # type: ignore[index]
                [[left]] = admin.execute(
                    "SELECT count(*) FROM runs WHERE namespace = %s AND run_id = ANY(%s) "
                    "AND status IN ('queued', 'running')", (store.ns, ids)).fetchall()
                return left == 0

            wait_for("the 50 runs to finish", finished, timeout=120, interval=0.01)
        status = _status(store_url, store.ns)
    finally:
        err = stop_process(daemon)
    assert max(counts) <= bound, (max(counts), err)
    assert max(counts) >= 2     # they were counted: the pool and the LISTEN connection
    with store.read() as tx:
        statuses = {tx.get_run(i)["status"] for i in ids}  # type: ignore[index]
    assert statuses == {"succeeded"}
    [me] = status["daemons"]
    assert me["pool"] == {"size": store_connections(WORKERS), "waits": 0,
                          "wait_seconds": 0.0}
    assert 0 <= me["heartbeat_age_s"] < 60   # on the server's clock, as it stamped it


def _status(url: str, ns: str) -> dict:  # type: ignore[type-arg]
    proc = subprocess.run([sys.executable, "-m", "clockwf", "status", "--db", url,
                           "--namespace", ns, "--format", "json"], capture_output=True,
                          text=True, check=False)
    return dict(json.loads(proc.stdout))


@pytest.mark.parametrize("backend", ONLY_PG, indirect=True)
def test_the_pool_never_opens_more_than_its_size_and_waits_visibly(
        store_url: str, namespace: str, caplog: pytest.LogCaptureFixture) -> None:
    """Five transactions at once on a pool of two: two run, three wait (logged, counted),
    and no connection is opened beside the pool."""
    import logging
    import os
    import threading

    import psycopg

    caplog.set_level(logging.WARNING, logger="clockwf")
    release = threading.Event()
    entered: list[int] = []
    with open_store(store_url, namespace, pool_size=2, application_name="pool-test") as small:
        def hold() -> None:
            with small.transaction() as tx:
                entered.append(tx.change_counter())
                assert release.wait(60)

        threads = [threading.Thread(target=hold) for _ in range(5)]
        for thread in threads:
            thread.start()
        try:
            wait_for("two transactions to run and three to wait",
                     lambda: len(entered) == 2
                     and small.pool_stats().waits == 3)  # type: ignore[union-attr]
            with psycopg.connect(store_url, autocommit=True) as admin:
                [[held]] = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                    (f"pool-test:{os.getpid()}",)).fetchall()
            assert (held, len(entered)) == (2, 2)
        finally:
            release.set()
            for thread in threads:
                thread.join(60)
        stats = small.pool_stats()
    assert len(entered) == 5
    assert stats is not None and (stats.size, stats.waits) == (2, 3) and stats.wait_seconds > 0
    assert [r for r in caplog.records if getattr(r, "action", "") == "store.pool_wait"]


@pytest.mark.parametrize("backend", ONLY_PG, indirect=True)
def test_a_pool_busy_for_its_whole_timeout_is_reported(
        store_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from clockwf.errors import StoreUnavailable

    monkeypatch.setenv("CLOCKWF_PG_TIMEOUT", "1")
    release = threading.Event()
    with open_store(store_url, namespace, pool_size=1) as tiny:
        busy = threading.Event()

        def hold() -> None:
            with tiny.transaction():
                busy.set()
                assert release.wait(60)

        holder = threading.Thread(target=hold)
        holder.start()
        try:
            assert busy.wait(30)
            with pytest.raises(StoreUnavailable, match=r"all 1 connections of this process to "
                                                       r"PostgreSQL .* stayed busy for 1 s"), \
                    tiny.read():
                pass
        finally:
            release.set()
            holder.join(60)
        with tiny.read() as tx:   # free again
            assert tx.change_counter() >= 0
