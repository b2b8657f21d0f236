"""Definitions in git: what a prune and a diff add to a publish, and what importing costs.

    python bench/git.py [--quick] [--no-pg]

1000 definitions (``--quick``: 200) are published once from a source. Then, per store, medians
of several rounds of the CI steady state, each compared with the plain republish measured in
the same run:

- republish the unchanged set from its source (the baseline);
- the same with ``--prune`` (nothing to remove: the cost of finding that out);
- ``diff`` of the set (the plan, a read transaction).

And ``import crontab`` of a crontab of as many jobs, compared with validating the files it
writes (the import validates each one: the rest is its own parsing, ids and YAML).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import MIX, Table, log, machine, median, ratio, store_urls

from clockwf import lifecycle
from clockwf.clock import parse_now
from clockwf.crontab import import_crontab
from clockwf.plan import plan
from clockwf.store import open_store
from clockwf.validate import FileReport, validate_source

NOW = parse_now("2027-01-04T12:00:00Z")
SOURCE = "https://git.example.com/ops.git//schedules"


def reports(n: int) -> list[FileReport]:
    out = []
    for i in range(n):
        cron, zone = MIX[i % len(MIX)]
        text = (f"id: wf{i:05d}\ntrigger: {{type: recurring, cron: '{cron}', "
                f"timezone: {zone}}}\nsteps:\n  - run: ./job.sh {i}\n")
        out.append(validate_source(text, f"schedules/wf{i:05d}.yaml", NOW, for_publish=True))
    return out


def crontab(n: int) -> str:
    lines = ["MAILTO=\"\"", "PATH=/usr/local/bin:/usr/bin:/bin"]
    for i in range(n):
        cron, _ = MIX[i % len(MIX)]
        lines.append(f"{cron} /usr/local/bin/job-{i}.sh --quiet >> /var/log/job-{i}.log 2>&1")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 definitions, 3 rounds")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    n = 200 if args.quick else 1000
    rounds = 3 if args.quick else 5
    defs = reports(n)
    rows = []
    for name, make_url in store_urls(args.no_pg):
        with make_url() as url, open_store(url, "bench") as store:
            lifecycle.publish_set(store, defs, NOW, source=SOURCE)
            samples: dict[str, list[float]] = {"republish": [], "prune": [], "diff": []}
            for _ in range(rounds):
                for mode in samples:
                    began = time.perf_counter()
                    if mode == "diff":
                        assert not plan(store, defs, NOW, source=SOURCE, prune="pause").changed
                    else:
                        out = lifecycle.publish_set(store, defs, NOW, source=SOURCE,
                                                    prune="pause" if mode == "prune" else None)
                        assert out.pruned == [] and len(out.published) == n
                    samples[mode].append(time.perf_counter() - began)
        base = median(samples["republish"])
        rows.append([name, f"republish {n} unchanged", f"{base * 1000:.0f}", "1.00x"])
        for mode, label in (("prune", "the same with --prune"), ("diff", "diff --prune")):
            value = median(samples[mode])
            rows.append([name, label, f"{value * 1000:.0f}", ratio(value, base)])
        log(f"  {name}: " + ", ".join(f"{r[1]} {r[2]} ms" for r in rows if r[0] == name))
    text = crontab(n)
    with tempfile.TemporaryDirectory(prefix="clockwf-bench-") as tmp:
        imports, validations = [], []
        for _ in range(rounds):
            began = time.perf_counter()
            result = import_crontab(text, "crontab", NOW, default_zone="UTC", out_dir=tmp)
            imports.append(time.perf_counter() - began)
            assert len(result.workflows) == n
            began = time.perf_counter()
            for item in result.workflows:
                validate_source(item.yaml, f"{tmp}/{item.workflow_id}.yaml", NOW)
            validations.append(time.perf_counter() - began)
    imp, val = median(imports), median(validations)
    rows.append(["-", f"import crontab of {n} jobs", f"{imp * 1000:.0f}",
                 f"{ratio(imp, val)} of validating its files ({val * 1000:.0f} ms)"])
    print(f"## bench/git.py ({'quick' if args.quick else 'default'})\n\nMachine: {machine()}\n")
    print(Table(f"Publish sets, prune, diff and import ({n} definitions, median of {rounds})",
                ["store", "operation", "ms", "compared with (same run)"], rows,
                "Republish: every definition validated before, one transaction, every one "
                "unchanged. Prune and diff read the source's workflows as well.").render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
