"""``clockwf next``: fires in local time and UTC with what DST did to them."""

from __future__ import annotations

import pytest

from .cli_support import ROOT, Clockwf

NY = ("--tz", "America/New_York")


def fires(clockwf: Clockwf, *args: str) -> list[dict[str, str | None]]:
    result = clockwf("next", "--format", "json", *args)
    assert result.code == 0, result.err
    document = result.json()
    assert list(document) == ["fires"]
    for fire in document["fires"]:
        assert list(fire) == ["at", "utc", "note"]
        assert isinstance(fire["utc"], str) and fire["utc"].endswith("Z")
    return list(document["fires"])


@pytest.mark.parametrize(("cron", "now", "expected", "starts", "says"), [
    pytest.param("30 2 * * *", "2027-03-13T12:00:00-05:00",
                 [("2027-03-14T03:00:00-04:00", "2027-03-14T07:00:00Z"),
                  ("2027-03-15T02:30:00-04:00", "2027-03-15T06:30:00Z")],
                 "DST gap: 02:30 does not exist", ["03:00", "run_after"],
                 id="spring-forward-gap-run_after"),
    pytest.param("30 1 * * *", "2027-11-06T12:00:00-04:00",
                 [("2027-11-07T01:30:00-04:00", "2027-11-07T05:30:00Z"),
                  ("2027-11-08T01:30:00-05:00", "2027-11-08T06:30:00Z")],
                 "", ["happens twice", "first pass"], id="fall-back-fold-once"),
])
def test_the_default_dst_choices(clockwf: Clockwf, cron: str, now: str,
                                 expected: list[tuple[str, str]], starts: str,
                                 says: list[str]) -> None:
    out = fires(clockwf, "--cron", cron, *NY, "--now", now, "-n", "2")
    assert [(f["at"], f["utc"]) for f in out] == expected
    note = out[0]["note"]
    assert note is not None and note.startswith(starts), note
    assert all(word in note for word in says), note
    assert out[1]["note"] is None


def test_spring_forward_gap_skip(clockwf: Clockwf) -> None:
    out = fires(clockwf, "--cron", "30 2 * * *", *NY, "--gap", "skip",
                "--now", "2027-03-13T12:00:00-05:00", "-n", "2")
    assert [f["at"] for f in out] == ["2027-03-15T02:30:00-04:00", "2027-03-16T02:30:00-04:00"]
    assert out[0]["note"] == "after skipping 2027-03-14 02:30 (DST gap, dst.gap: skip)"
    assert out[1]["note"] is None


def test_fall_back_fold_twice(clockwf: Clockwf) -> None:
    out = fires(clockwf, "--cron", "30 1 * * *", *NY, "--fold", "twice",
                "--now", "2027-11-06T12:00:00-04:00", "-n", "3")
    assert [(f["at"], f["utc"]) for f in out] == [
        ("2027-11-07T01:30:00-04:00", "2027-11-07T05:30:00Z"),
        ("2027-11-07T01:30:00-05:00", "2027-11-07T06:30:00Z"),
        ("2027-11-08T01:30:00-05:00", "2027-11-08T06:30:00Z"),
    ]
    assert "first pass" in (out[0]["note"] or "")
    assert "second pass" in (out[1]["note"] or "")
    assert out[2]["note"] is None


def test_wildcard_job_fires_in_both_passes(clockwf: Clockwf) -> None:
    out = fires(clockwf, "--cron", "0 * * * *", *NY, "--now", "2027-11-07T00:30:00-04:00",
                "-n", "3")
    assert [f["utc"] for f in out] == ["2027-11-07T05:00:00Z", "2027-11-07T06:00:00Z",
                                       "2027-11-07T07:00:00Z"]
    assert [f["at"] for f in out] == ["2027-11-07T01:00:00-04:00", "2027-11-07T01:00:00-05:00",
                                      "2027-11-07T02:00:00-05:00"]


def test_naive_now_is_read_in_the_schedule_zone(clockwf: Clockwf) -> None:
    local = fires(clockwf, "--cron", "0 12 * * *", *NY, "--now", "2027-06-01T11:00:00", "-n", "1")
    assert local[0]["at"] == "2027-06-01T12:00:00-04:00"
    utc = fires(clockwf, "--cron", "0 12 * * *", *NY, "--now", "2027-06-01T17:00:00Z", "-n", "1")
    assert utc[0]["at"] == "2027-06-02T12:00:00-04:00"


def test_default_zone_is_utc_and_count(clockwf: Clockwf) -> None:
    out = fires(clockwf, "--cron", "*/5 * * * *", "--now", "2027-01-01T00:00:00Z", "-n", "4")
    assert [f["at"] for f in out] == [f"2027-01-01T00:{m:02d}:00+00:00" for m in (5, 10, 15, 20)]
    assert len(fires(clockwf, "--cron", "@hourly", "--now", "2027-01-01T00:00:00Z")) == 10


def test_recurring_file(clockwf: Clockwf) -> None:
    out = fires(clockwf, "examples/nightly-report.yaml", "--now", "2027-03-13T00:00:00", "-n", "2")
    assert [f["at"] for f in out] == ["2027-03-13T02:30:00-05:00", "2027-03-14T03:00:00-04:00"]
    assert out[1]["note"] is not None and "02:30" in out[1]["note"]


def test_schedule_file(clockwf: Clockwf) -> None:
    out = fires(clockwf, "examples/one-time-migration.yaml", "--now", "2029-01-01T00:00:00Z")
    assert out == [{"at": "2030-01-15T09:00:00+01:00", "utc": "2030-01-15T08:00:00Z",
                    "note": None}]
    result = clockwf("next", "--format", "json", "examples/one-time-migration.yaml",
                     "--now", "2031-01-01T00:00:00Z")
    assert result.code == 0
    assert result.json() == {"fires": []}
    assert "is in the past" in result.err


def test_file_from_stdin(clockwf: Clockwf) -> None:
    source = (ROOT / "examples" / "heartbeat.yaml").read_text()
    result = clockwf("next", "--format", "json", "-", "-n", "1", "--now", "2027-01-01T00:00:00Z",
                     input=source)
    assert result.code == 0
    assert result.json()["fires"][0]["at"] == "2027-01-01T00:05:00+00:00"


def test_event_and_manual_files_have_no_fires(clockwf: Clockwf) -> None:
    event = clockwf("next", "examples/invoice-created.yaml")
    assert event.code == 1
    assert "started by the event 'invoice.created', not by the clock" in event.err
    manual = clockwf("next", "examples/manual-cleanup.yaml")
    assert manual.code == 1
    assert "has no trigger: it is started only by hand" in manual.err


def test_invalid_file(clockwf: Clockwf) -> None:
    result = clockwf("next", "examples/invalid/cron-seconds.yaml")
    assert result.code == 1
    assert "examples/invalid/cron-seconds.yaml:7:9: trigger.cron: 6 fields given" in result.err


def test_bad_cron_and_zone(clockwf: Clockwf) -> None:
    cron = clockwf("next", "--cron", "61 * * * *")
    assert cron.code == 1 and "minute field: 61 is out of range 0-59" in cron.err
    zone = clockwf("next", "--cron", "0 * * * *", "--tz", "Mars/Olympus")
    assert zone.code == 1 and "unknown time zone 'Mars/Olympus'" in zone.err


@pytest.mark.slow
def test_usage_errors(clockwf: Clockwf) -> None:
    assert clockwf("next").code == 2
    assert clockwf("next", "--cron", "@daily", "examples/heartbeat.yaml").code == 2
    assert clockwf("next", "examples/heartbeat.yaml", "--tz", "UTC").code == 2
    assert clockwf("next", "--cron", "@daily", "--gap", "later").code == 2
    assert clockwf("next", "--cron", "@daily", "-n", "0").code == 2


def test_human_table(clockwf: Clockwf) -> None:
    result = clockwf("next", "--cron", "30 2 * * *", *NY, "--now", "2027-03-13T12:00:00",
                     "-n", "2")
    assert result.code == 0
    assert "next fires of '30 2 * * *' in America/New_York" in result.out
    assert "2027-03-14T03:00:00-04:00" in result.out
    assert "2027-03-14T07:00:00Z" in result.out
    assert "DST gap: 02:30 does not exist" in result.out


def test_clock_correction_notes_the_lost_occurrence(clockwf: Clockwf) -> None:
    out = fires(clockwf, "--cron", "0 9 * * *", "--tz", "Pacific/Apia",
                "--now", "2011-12-29T10:00:00", "-n", "1")
    assert out[0]["at"] == "2011-12-31T09:00:00+14:00"
    note = out[0]["note"]
    assert note is not None and note.startswith("after losing 2011-12-30 09:00 (")
