"""`tick` across the DST days of 2027, against both stores (docs/design.md §2.2, §2.3, §3).

Expectations are written by hand as UTC fire-key instants. New York: 2027-03-14 02:00 EST ->
03:00 EDT (07:00Z), 2027-11-07 02:00 EDT -> 01:00 EST (06:00Z). Berlin: 2027-03-28 02:00 CET ->
03:00 CEST (01:00Z), 2027-10-31 03:00 CEST -> 02:00 CET (01:00Z).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from clockwf.launcher import run_payload
from clockwf.runs import metadata
from clockwf.store import Store
from tests.tables import table_rows

from .scheduling_support import definition, drive, fire_keys, keys, publish_text, skips, utc

NY = "America/New_York"
BERLIN = "Europe/Berlin"


def recurring(cron: str, zone: str, gap: str = "run_after", fold: str = "once") -> str:
    return (f'type: recurring\ncron: "{cron}"\ntimezone: {zone}\n'
            f"dst: {{gap: {gap}, fold: {fold}}}")


# One case a row: id | cron | zone | dst gap, fold | the window driven | the fires expected.
# Instants are UTC in 2027, written MM-DDTHH:MM.
TABLE = """
ny-spring-fixed-run_after     | 30 2 * * *   | NY     | run_after once  | 03-13T00:00 03-16T00:00 | 03-13T07:30 03-14T07:00 03-15T06:30
ny-spring-fixed-skip          | 30 2 * * *   | NY     | skip once       | 03-13T00:00 03-16T00:00 | 03-13T07:30 03-15T06:30
ny-fall-fixed-once            | 30 1 * * *   | NY     | run_after once  | 11-06T00:00 11-09T00:00 | 11-06T05:30 11-07T05:30 11-08T06:30
ny-fall-fixed-twice           | 30 1 * * *   | NY     | run_after twice | 11-06T00:00 11-09T00:00 | 11-06T05:30 11-07T05:30 11-07T06:30 11-08T06:30
ny-spring-wildcard            | */30 * * * * | NY     | skip once       | 03-14T05:45 03-14T08:00 | 03-14T06:00 03-14T06:30 03-14T07:00 03-14T07:30 03-14T08:00
ny-fall-wildcard              | */30 * * * * | NY     | run_after once  | 11-07T04:45 11-07T07:00 | 11-07T05:00 11-07T05:30 11-07T06:00 11-07T06:30 11-07T07:00
ny-fall-hourly-both-passes    | 0 * * * *    | NY     | run_after once  | 11-07T04:30 11-07T07:30 | 11-07T05:00 11-07T06:00 11-07T07:00
berlin-spring-fixed-run_after | 30 2 * * *   | BERLIN | run_after once  | 03-27T00:00 03-30T00:00 | 03-27T01:30 03-28T01:00 03-29T00:30
berlin-spring-fixed-skip      | 30 2 * * *   | BERLIN | skip once       | 03-27T00:00 03-30T00:00 | 03-27T01:30 03-29T00:30
berlin-fall-fixed-once        | 30 2 * * *   | BERLIN | run_after once  | 10-30T00:00 11-02T00:00 | 10-30T00:30 10-31T00:30 11-01T01:30
berlin-fall-fixed-twice       | 30 2 * * *   | BERLIN | run_after twice | 10-30T00:00 11-02T00:00 | 10-30T00:30 10-31T00:30 10-31T01:30 11-01T01:30
berlin-spring-wildcard        | 15 * * * *   | BERLIN | run_after once  | 03-28T00:00 03-28T02:30 | 03-28T00:15 03-28T01:15 03-28T02:15
"""


def instants(text: str) -> list[str]:
    """``MM-DDTHH:MM`` words (UTC, 2027) as ISO instants."""
    return [f"2027-{word}:00Z" for word in text.split()]


def cases(table: str) -> list[object]:
    out = []
    for case_id, cron, zone, dst, window, expected in table_rows(table, 6):
        gap, fold = dst.split()
        start, end = instants(window)
        out.append(pytest.param(cron, {"NY": NY, "BERLIN": BERLIN}[zone], gap, fold, start, end,
                                instants(expected), id=case_id))
    return out


@pytest.mark.parametrize(("cron", "zone", "gap", "fold", "start", "end", "expected"), cases(TABLE))
def test_fires_across_dst(store: Store, cron: str, zone: str, gap: str, fold: str,
                          start: str, end: str, expected: list[str]) -> None:
    publish_text(store, definition("job", recurring(cron, zone, gap, fold)), start)
    drive(store, utc(start), utc(end))
    assert fire_keys(store) == keys("job", *expected)


def test_polling_every_minute_gives_the_same_fires(store: Store) -> None:
    """A daemon ticking every minute (not only at due instants) fires the same keys."""
    publish_text(store, definition("job", recurring("30 1,2 * * *", NY)),
                 "2027-03-14T05:00:00Z")
    drive(store, utc("2027-03-14T05:00:00Z"), utc("2027-03-14T08:00:00Z"),
          step=timedelta(minutes=1))
    # 01:30 EST (06:30Z); 02:30 does not exist -> once at 03:00 EDT (07:00Z).
    assert fire_keys(store) == keys("job", "2027-03-14T06:30:00Z", "2027-03-14T07:00:00Z")


def test_dst_skip_is_recorded_and_explainable(store: Store) -> None:
    publish_text(store, definition("job", recurring("30 2 * * *", NY, gap="skip")),
                 "2027-03-13T12:00:00Z")
    drive(store, utc("2027-03-13T12:00:00Z"), utc("2027-03-15T12:00:00Z"))
    rows = skips(store, "job")
    assert [(r["reason"], r["occurrences"]) for r in rows] == [("dst_skip", 1)]
    assert "02:30 does not exist on 2027-03-14" in rows[0]["detail"]


def test_gap_shifted_run_carries_its_dst_provenance(store: Store) -> None:
    import json

    publish_text(store, definition("job", recurring("30 2 * * *", NY)), "2027-03-13T12:00:00Z")
    drive(store, utc("2027-03-13T12:00:00Z"), utc("2027-03-14T12:00:00Z"))
    with store.read() as tx:
        (run,) = tx.list_runs()
    meta = metadata(run)
    payload = json.loads(run_payload(run))
    assert meta["dst"] == "gap_shifted"
    assert "02:30 does not exist" in meta["dst_note"]
    assert payload["scheduled_for"] == "2027-03-14T03:00:00-04:00"
    assert payload["scheduled_for_utc"] == "2027-03-14T07:00:00Z"
    assert payload["fire_key"] == "recurring:job:2027-03-14T07:00:00Z"
