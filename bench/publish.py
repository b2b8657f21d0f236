"""Publish benchmark: definitions per second, one transaction per file vs one batch of 1000.

    python bench/publish.py [--quick] [--full] [--no-pg]

1000 definition files (``--quick``: 200) are written to a temporary folder: recurring triggers
over a mix of expressions and zones, two steps, a policy. Then, on SQLite and on PostgreSQL:

- "per file": each file validated and published in its own transaction, one after the other;
- "one batch": every file validated, then all published in ONE transaction (what
  ``clockwf publish *.yaml`` does: all or nothing).

Reported: the whole (validate + publish) in definitions/s and seconds for all the files, and
the store's share (the publish transactions alone). Each round publishes into a fresh namespace
of the same database (so every file is a new workflow, not "unchanged"); figures are medians of
several rounds. Also: the real command line, ``clockwf publish DIR/*.yaml`` as a process (one
batch), wall time including interpreter start. Target: 1000 in one batch under 2 s on SQLite.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import MIX, ROOT, Table, log, machine, median, rate, store_urls

from clockwf import lifecycle
from clockwf.store import open_store
from clockwf.validate import validate_path

NOW_TEXT = "2027-01-04T12:00:00Z"


def write_definitions(folder: Path, n: int) -> list[Path]:
    paths = []
    for i in range(n):
        cron, zone = MIX[i % len(MIX)]
        path = folder / f"wf{i:05d}.yaml"
        path.write_text(
            f"id: wf{i:05d}\n"
            f"name: Benchmark workflow {i}\n"
            "trigger:\n"
            "  type: recurring\n"
            f'  cron: "{cron}"\n'
            f"  timezone: {zone}\n"
            "policy:\n"
            "  catchup: latest\n"
            "  grace: 2m\n"
            "steps:\n"
            "  - id: build\n"
            "    run: ./scripts/build.sh\n"
            "    timeout: 10m\n"
            "    retries: 1\n"
            "  - id: notify\n"
            "    run: echo done\n")
        paths.append(path)
    return paths


def per_file(url: str, ns: str, paths: list[Path]) -> tuple[float, float]:
    """Seconds for everything, and for the publish transactions alone."""
    from clockwf.clock import parse_now

    now = parse_now(NOW_TEXT)
    store_s = 0.0
    began = time.perf_counter()
    with open_store(url, ns) as store:
        for path in paths:
            report = validate_path(path, now, for_publish=True)
            t = time.perf_counter()
            lifecycle.publish(store, [report], now)
            store_s += time.perf_counter() - t
    return time.perf_counter() - began, store_s


def one_batch(url: str, ns: str, paths: list[Path]) -> tuple[float, float]:
    from clockwf.clock import parse_now

    now = parse_now(NOW_TEXT)
    began = time.perf_counter()
    with open_store(url, ns) as store:
        reports = [validate_path(path, now, for_publish=True) for path in paths]
        t = time.perf_counter()
        published = lifecycle.publish(store, reports, now)
        store_s = time.perf_counter() - t
    assert len(published) == len(paths) and all(p.status == "published" for p in published)
    return time.perf_counter() - began, store_s


def command_line(url: str, ns: str, paths: list[Path]) -> float:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "clockwf", "publish", *map(str, paths), "--db", url,
                    "--namespace", ns, "--now", NOW_TEXT, "--format", "json"],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 files, fewer rounds (CI)")
    parser.add_argument("--full", action="store_true", help="more rounds")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    n = 200 if args.quick else 1000
    rounds = 3 if args.quick else 7 if args.full else 5
    rows = []
    with tempfile.TemporaryDirectory(prefix="clockwf-bench-") as tmp:
        paths = write_definitions(Path(tmp), n)
        for name, make_url in store_urls(args.no_pg):
            with make_url() as url:
                counter = iter(range(10**6))
                results: dict[str, list[tuple[float, float]]] = {"per file": [], "one batch": []}
                one_batch(url, "warmup", paths)
                for _ in range(rounds):
                    results["per file"].append(per_file(url, f"f{next(counter)}", paths))
                    results["one batch"].append(one_batch(url, f"b{next(counter)}", paths))
                cli = median(command_line(url, f"c{next(counter)}", paths)
                             for _ in range(max(2, rounds - 2)))
            for mode, samples in results.items():
                total = median(s for s, _ in samples)
                store_s = median(s for _, s in samples)
                rows.append([name, mode, rate(n / total), f"{total:.2f}", f"{store_s:.2f}",
                             rate(n / store_s)])
            rows.append([name, "one batch, `clockwf publish` process", rate(n / cli),
                         f"{cli:.2f}", "-", "-"])
            log(f"  {name}: " + ", ".join(f"{r[1]} {r[3]} s" for r in rows if r[0] == name))
    print(f"## bench/publish.py ({'quick' if args.quick else 'full' if args.full else 'default'})"
          f"\n\nMachine: {machine()}\n")
    print(Table(
        f"Publish {n} definition files (median of {rounds})",
        ["store", "mode", "definitions/s", f"all {n} (s)", "publish transactions (s)",
         "store only, definitions/s"], rows,
        "Whole = validate (YAML, models, cron and DST checks) + publish. Per file: one "
        "transaction per file. One batch: all files in one transaction, all or nothing. The "
        "process row includes starting Python and importing clockwf.").render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
