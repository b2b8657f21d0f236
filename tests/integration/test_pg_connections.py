"""A daemon holds a bounded number of PostgreSQL connections, sized from its own threads:
its pool (workers + 4: the loop, the tick's batch writer, the claimer, the lease keeper and one
per worker) plus its LISTEN connection. Counted in pg_stat_activity by application_name while
a daemon with --workers 8 executes 50 runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from executor_support import publish_def, start, wait_for
from process_support import clockwf_process, stop_process

from clockwf.daemon import store_connections
from clockwf.store import Store

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


def _status(url: str, ns: str) -> dict:  # type: ignore[type-arg]
    proc = subprocess.run([sys.executable, "-m", "clockwf", "status", "--db", url,
                           "--namespace", ns, "--format", "json"], capture_output=True,
                          text=True, check=False)
    return dict(json.loads(proc.stdout))
