"""Scraping the metrics of 10,000 workflows: ``clockwf metrics``'s exposition on SQLite (and on
PostgreSQL when one answers at CLOCKWF_TEST_PG_URL or 127.0.0.1:5432), compared in the same
run with (a) rendering the same per-workflow gauges through prometheus-client's own
GaugeMetricFamily + generate_latest, and (b) the bare read of the rows.

    python bench/metrics.py [--workflows 10000] [--rounds 5] [--quick] [--no-pg]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from clockwf.lifecycle import publish
from clockwf.notify.metrics import WORKFLOW_GAUGES, exposition
from clockwf.notify.outbox import q_all
from clockwf.store import Store, open_store
from clockwf.validate import validate_source

PG_URL = os.environ.get("CLOCKWF_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def fill(store: Store, count: int, now: datetime) -> None:
    reports = [validate_source(
        f"id: wf-{i}\ntrigger: {{type: recurring, cron: '{i % 60} * * * *'}}\n"
        "expect: {success_within: 26h}\nsteps:\n  - run: 'true'\n", f"wf-{i}.yaml", now,
        for_publish=True) for i in range(count)]
    for start in range(0, len(reports), 1000):
        publish(store, reports[start:start + 1000], now)


def library_rendering(store: Store) -> bytes:
    """The five per-workflow gauges through prometheus-client's per-sample machinery."""
    with store.read() as tx:
        rows = q_all(tx, "alerts_metrics_workflows")
    families = [GaugeMetricFamily(name, help_, labels=["namespace", "workflow"])
                for name, help_ in WORKFLOW_GAUGES]
    for row in rows:
        key = [store.ns, row["workflow_id"]]
        for family in families:
            family.add_metric(key, 0.0)

    class Fixed:
        def collect(self) -> Any:
            return families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed())  # type: ignore[arg-type]
    return generate_latest(registry)


def bare_read(store: Store) -> None:
    with store.read() as tx:
        q_all(tx, "alerts_metrics_workflows")


def median_ms(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def measure(label: str, store: Store, args: argparse.Namespace, now: datetime) -> None:
    fill(store, args.workflows, now)
    size = len(exposition(store, now))
    ours = median_ms(lambda: exposition(store, now), args.rounds)
    lib = median_ms(lambda: library_rendering(store), args.rounds)
    bare = median_ms(lambda: bare_read(store), args.rounds)
    print(f"{label}, {args.workflows} workflows ({size // 1024} KiB): scrape {ours:.0f} ms; "
          f"the same gauges through prometheus-client's renderer {lib:.0f} ms "
          f"({lib / ours:.1f}x slower); bare read of the rows {bare:.0f} ms; goal < 1000 ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workflows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1,000 workflows, 3 rounds")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    if args.quick:
        args.workflows, args.rounds = 1000, 3
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp, \
            open_store(str(Path(tmp) / "bench.db"), "bench") as store:
        measure("SQLite", store, args, now)
    if args.no_pg:
        return
    try:
        import psycopg

        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except Exception as exc:
        print(f"PostgreSQL skipped: {exc}")
        return
    name = f"clockwf_bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f"CREATE DATABASE {name}")
    try:
        url = PG_URL.rsplit("/", 1)[0] + "/" + name
        with open_store(url, "bench") as store:
            measure("PostgreSQL", store, args, now)
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


if __name__ == "__main__":
    main()
