"""Several processes ticking the same store at the same instants: every expected fire key
exactly once, none missing (docs/design.md §3, §9). Real processes, real connections, both stores."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from clockwf import lifecycle
from clockwf.store import Store
from clockwf.validate import validate_source

from .process_support import Race
from .scheduling_support import definition, fire_keys, utc

pytestmark = pytest.mark.slow   # real processes racing

TICKER = """
import json, sys
from datetime import datetime, timedelta
from clockwf.store import open_store
from clockwf.scheduler import tick
url, ns, start, minutes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = open_store(url, ns)
t0 = datetime.fromisoformat(start)
print("ready", flush=True)
sys.stdin.readline()
launched = []
for m in range(minutes + 1):
    report = tick(store, t0 + timedelta(minutes=m), batch_size=50)
    launched += [entry["fire_key"] for entry in report.launched]
store.close()
print(json.dumps({"launched": launched}))
"""


def test_two_processes_ticking_the_same_instants(store: Store, store_url: str,
                                                 namespace: str, race: Race) -> None:
    start = utc("2027-01-10T00:00:00Z")
    reports = []
    for i in range(120):
        wid = f"job-{i:03d}"
        cron = "* * * * *" if i % 2 else "*/3 * * * *"
        # The processes race through the instants independently, so one may tick 00:12 while
        # another is still at 00:09: with catchup: all, a late occurrence still launches, and
        # exactly-once is what is left to check.
        text = definition(wid, f'type: recurring\ncron: "{cron}"',
                          policy="catchup: all\ncatchup_window: 1d")
        reports.append(validate_source(text, f"{wid}.yaml", start, for_publish=True))
    lifecycle.publish(store, reports, start)
    minutes = 30
    outputs = race(TICKER, [[store_url, namespace, start.isoformat(), str(minutes)]] * 3)
    launched = [json.loads(out.strip().splitlines()[-1])["launched"] for out in outputs]

    expected = set()
    for i in range(120):
        step = 1 if i % 2 else 3
        for m in range(step, minutes + 1, step):
            instant = (start + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ")
            expected.add(f"recurring:job-{i:03d}:{instant}")
    got = fire_keys(store)
    assert len(got) == len(set(got))                      # no duplicate
    assert set(got) == expected                           # none missing, none extra
    # each reported launched by exactly one process: the reports are disjoint and cover it all
    reported = [key for keys in launched for key in keys]
    assert sorted(reported) == sorted(expected)
