"""Several daemons, exactly once (issue 6.1), at CI size: real processes tick the same rehearsed
instants of a span over schedules that fire every minute, on one SQLite file and on one
PostgreSQL database; every expected fire key is stored exactly once and was reported launched by
exactly one process, none is missing; with an executor in each process, every run is executed
once. The harness is bench/fleet.py (its docstring says what it does; ``--full`` sizes there).
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from fleet import executed_once, run_fleet


def test_three_processes_tick_every_occurrence_exactly_once(backend: str,
                                                            store_url: str) -> None:
    # 200 schedules x 5 minutes, claimed 25 per transaction: many small transactions, so the
    # three processes interleave (and skip each other's locked rows on PostgreSQL).
    result = run_fleet(store_url, backend, f"fleet-{uuid.uuid4().hex[:8]}", schedules=200,
                       minutes=5, processes=3, batch=25, timeout=120)
    assert result.expected == 1000
    assert result.missing == 0 and result.extra == 0, result.summary()
    assert result.stored == result.distinct == result.expected, result.summary()
    assert result.reported == result.expected and result.duplicates == 0, result.summary()
    assert sum(result.per_process) == result.expected


def test_three_processes_with_executors_run_each_occurrence_once(backend: str,
                                                                 store_url: str) -> None:
    result = run_fleet(store_url, backend, f"exec-{uuid.uuid4().hex[:8]}", schedules=40,
                       minutes=2, processes=3, batch=10, execute=True, timeout=120)
    assert result.exactly_once, result.summary()
    assert executed_once(result), result.summary()
    assert result.execution["statuses"] == {"succeeded": 80}
