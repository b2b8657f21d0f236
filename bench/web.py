"""clockwf serve under a big store: the API's workflows list and one run, as JSON and as a page.

For each store (SQLite and, when it answers, PostgreSQL) this loads 10,000 workflows (with
their versions and schedules) and 1,000,000 runs with bulk SQL (``--quick``: 1,000 and
100,000), starts a real ``clockwf serve`` process and times sequential requests over HTTP on
127.0.0.1 (p50 and p99), beside, in the same run and on the same store:

- ``clockwf list --format json`` (the command, so Python's start-up included), and
- the same document built in process (``documents.workflows(lifecycle.list_workflows())``),
  which is what the API's list does before HTTP and JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

from _common import (
    DUE,
    ROOT,
    Table,
    fmt_size,
    load_schedules,
    log,
    machine,
    store_urls,
    workflow_id,
)

from clockwf import documents, lifecycle, tokens
from clockwf.store import Store, open_store
from clockwf.store.sqlite import utc_text

NS = "bench-web"
RUN_COLUMNS = ("namespace", "fire_key", "workflow_id", "workflow_version", "trigger_type",
               "scheduled_for", "due_at", "status", "serial", "payload", "metadata",
               "created_at", "started_at", "finished_at")
DEFINITION = ('{{"id":"{}","steps":[{{"run":"echo hi"}}],"trigger":{{"cron":"* * * * *",'
              '"timezone":"UTC","type":"recurring"}}}}')


def _bulk(store: Store, table: str, columns: tuple[str, ...], rows: Any) -> None:
    with store.transaction() as tx:
        conn = tx.db.conn  # type: ignore[attr-defined]
        names = ", ".join(columns)
        if store.backend == "sqlite":
            marks = ", ".join("?" * len(columns))
            conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})",
                             ([utc_text(v) if hasattr(v, "tzinfo") and v is not None
                               and not isinstance(v, str | int) else v for v in r]
                              for r in rows))
        else:
            with conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)


def load(store: Store, workflows: int, runs: int) -> int:
    """Workflows, versions, schedules and runs; returns the id of a run with steps."""
    began = time.perf_counter()
    at = DUE - timedelta(days=30)
    _bulk(store, "workflows", ("namespace", "workflow_id", "name", "current_version",
                               "trigger_type", "paused", "created_at", "updated_at"),
          ((NS, workflow_id(i), f"Workflow {i}", 1, "recurring", 0 if store.backend ==
            "sqlite" else False, at, at) for i in range(workflows)))
    _bulk(store, "workflow_versions", ("namespace", "workflow_id", "version", "content_hash",
                                       "definition", "source", "published_at"),
          ((NS, workflow_id(i), 1, f"h{i}", DEFINITION.format(workflow_id(i)), "", at)
           for i in range(workflows)))
    load_schedules(store, workflows, DUE)
    chunk = 100_000
    for low in range(0, runs, chunk):
        rows = []
        for n in range(low, min(low + chunk, runs)):
            wid = workflow_id(n % workflows)
            when = at + timedelta(minutes=n // workflows)
            rows.append((NS, f"recurring:{wid}:{when:%Y-%m-%dT%H:%M:%SZ}", wid, 1, "recurring",
                         when, when, "succeeded", 0 if store.backend == "sqlite" else False,
                         f'{{"n": {n}}}', '{"label": "every minute", "timezone": "UTC"}',
                         when, when, when + timedelta(seconds=1)))
        _bulk(store, "runs", RUN_COLUMNS, rows)
        log(f"  {min(low + chunk, runs):,} runs")
    with store.read() as tx:
        run_id = int(tx.list_runs(limit=1)[0]["run_id"]) - runs // 2
    with store.transaction() as tx:
        for index in range(3):
            tx.insert_step_attempt(run_id=run_id, step_index=index, attempt=1,
                                   step_id=f"step-{index}", kind="run", started_at=at)
            tx.finish_step_attempt(run_id=run_id, step_index=index, attempt=1,
                                   status="succeeded", finished_at=at, duration_ms=12,
                                   exit_code=0, http_status=None, output="line\n" * 200,
                                   error=None)
    if store.backend == "postgresql":
        with store.transaction() as tx:
            tx.db.conn.execute("ANALYZE")  # type: ignore[attr-defined]
    log(f"  loaded in {time.perf_counter() - began:.1f} s")
    return run_id


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return p50 * 1000, p99 * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(url: str, token: str, run_id: int, requests: int, commands: int,
            store: Store) -> list[tuple[str, float, float]]:
    import httpx

    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOCKWF_")}
    env["PYTHONPATH"] = str(ROOT)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "clockwf", "serve", "--listen",
                               f"127.0.0.1:{port}", "--db", url, "--namespace", NS,
                               "--log-level", "warning"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    results = []
    try:
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                              timeout=60)
        deadline = time.monotonic() + 60
        while True:
            try:
                client.get("/healthz")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("serve did not start") from None
                time.sleep(0.05)
        cases = [
            ("API GET /api/v1/workflows (every workflow)", "/api/v1/workflows", requests // 5),
            ("API GET /api/v1/workflows?limit=50 (a page)", "/api/v1/workflows?limit=50",
             requests),
            ("API GET /api/v1/runs/{id} (one run, 3 steps)", f"/api/v1/runs/{run_id}",
             requests),
            ("page GET /runs/{id}", f"/runs/{run_id}", requests),
            ("page GET /workflows (the table, page 1)", "/workflows", requests // 2),
            ("API GET /api/v1/runs (newest 50)", "/api/v1/runs", requests),
        ]
        for name, path, count in cases:
            client.get(path).raise_for_status()  # warm
            samples = []
            for _ in range(max(count, 5)):
                began = time.perf_counter()
                response = client.get(path)
                samples.append(time.perf_counter() - began)
                assert response.status_code == 200, response.text
            results.append((name, *percentiles(samples)))
            log(f"  {name}: p50 {results[-1][1]:.1f} ms, p99 {results[-1][2]:.1f} ms")
        client.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    samples = []
    for _ in range(commands):
        began = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "clockwf", "list", "--format", "json",
                              "--db", url, "--namespace", NS], env=env, capture_output=True,
                             check=True)
        samples.append(time.perf_counter() - began)
    assert len(json.loads(out.stdout)["workflows"]) > 0
    results.append(("`clockwf list --format json` (command, with start-up)",
                     *percentiles(samples)))
    samples = []
    for _ in range(max(requests // 5, 5)):
        began = time.perf_counter()
        documents.workflows(lifecycle.list_workflows(store))
        samples.append(time.perf_counter() - began)
    results.append(("the list document built in process (no HTTP)", *percentiles(samples)))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 workflows, 100,000 runs")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    workflows, runs = (1_000, 100_000) if args.quick else (10_000, 1_000_000)
    requests, commands = (100, 5) if args.quick else (500, 10)
    print(f"Machine: {machine()}\n")
    for backend, make_url in store_urls(args.no_pg):
        with make_url() as url:
            log(f"{backend}: loading {fmt_size(workflows)} workflows, {fmt_size(runs)} runs")
            with open_store(url, NS) as store:
                run_id = load(store, workflows, runs)
                token = tokens.create(store, "bench", "read", DUE)
                rows = measure(url, token, run_id, requests, commands, store)
        table = Table(f"{backend}: {fmt_size(workflows)} workflows, {fmt_size(runs)} runs "
                      f"(ms, sequential requests over HTTP on 127.0.0.1)",
                      ["measure", "p50", "p99"],
                      [(name, f"{p50:.1f}", f"{p99:.1f}") for name, p50, p99 in rows])
        print(table.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
