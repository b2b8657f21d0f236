"""Scraping the metrics of 10,000 workflows (`clockwf metrics`'s exposition), on SQLite and
PostgreSQL when one answers; compared with a bare read of the same rows in the same run.

    python bench/metrics.py [--workflows 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from clockwf.lifecycle import publish
from clockwf.notify.metrics import exposition
from clockwf.notify.outbox import q_all
from clockwf.store import open_store
from clockwf.validate import validate_source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workflows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "bench.db"), "bench")
        reports = [validate_source(
            f"id: wf-{i}\ntrigger: {{type: recurring, cron: '{i % 60} * * * *'}}\n"
            "expect: {success_within: 26h}\nsteps:\n  - run: 'true'\n", f"wf-{i}.yaml", now,
            for_publish=True) for i in range(args.workflows)]
        for start in range(0, len(reports), 1000):
            publish(store, reports[start:start + 1000], now)
        scrape, bare = [], []
        for _ in range(args.rounds):
            t = time.perf_counter()
            text = exposition(store, now)
            scrape.append(time.perf_counter() - t)
            t = time.perf_counter()
            with store.read() as tx:
                q_all(tx, "alerts_metrics_workflows")
            bare.append(time.perf_counter() - t)
        store.close()
    s, b = statistics.median(scrape), statistics.median(bare)
    print(f"SQLite, {args.workflows} workflows: scrape {s * 1000:.0f} ms "
          f"({len(text) // 1024} KiB), bare read of the rows {b * 1000:.0f} ms, "
          f"ratio {s / b:.1f}x; goal under 1000 ms")


if __name__ == "__main__":
    main()
