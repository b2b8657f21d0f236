"""The validation pipeline (clockwf.validate): messages, fields, positions, checks."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clockwf.errors import DefinitionInvalid, Diagnostic
from clockwf.timeutil import get_zone
from clockwf.validate import FileReport, legacy_zones, validate_path, validate_source

NOW = datetime(2027, 1, 1, tzinfo=UTC)


def check(text: str, *, now: datetime = NOW, **options: bool) -> FileReport:
    return validate_source(textwrap.dedent(text), "wf.yaml", now, **options)


def only_error(report: FileReport) -> Diagnostic:
    assert len(report.errors) == 1, report.errors
    error = report.errors[0]
    assert error.path == "wf.yaml"
    return error


def recurring(cron: str, timezone: str | None = None, extra: str = "") -> str:
    zone = f"  timezone: {timezone}\n" if timezone else ""
    return (f"id: job\ntrigger:\n  type: recurring\n  cron: \"{cron}\"\n{zone}{extra}"
            "steps:\n  - run: echo\n")


def schedule(run_at: str, timezone: str | None = None) -> str:
    zone = f"  timezone: {timezone}\n" if timezone else ""
    return f"id: job\ntrigger:\n  type: schedule\n  run_at: {run_at}\n{zone}steps:\n  - run: echo\n"


class TestValid:
    def test_manual_workflow(self) -> None:
        report = check("id: tidy\nsteps:\n  - run: echo\n")
        assert report.ok and report.errors == [] and report.warnings == []
        assert report.workflow_id == "tidy"
        assert report.next_fires == []
        assert report.definition is not None and report.definition.trigger is None
        assert report.source == "id: tidy\nsteps:\n  - run: echo\n"

    def test_recurring_next_fires(self) -> None:
        report = check(recurring("0 12 * * *", "Europe/Berlin"))
        assert report.ok, report.errors
        assert report.next_fires == [f"2027-01-0{d}T12:00:00+01:00" for d in range(1, 6)]

    def test_next_fires_are_strictly_after_now(self) -> None:
        report = check(recurring("0 12 * * *", "UTC"), now=datetime(2027, 1, 1, 12, tzinfo=UTC))
        assert report.next_fires[0] == "2027-01-02T12:00:00+00:00"

    def test_as_dict_has_exactly_the_documented_keys(self) -> None:
        report = check("id: Bad\nsteps:\n  - run: echo\n")
        document = report.as_dict()
        assert list(document) == ["path", "ok", "workflow_id", "errors", "warnings",
                                  "next_fires"]
        assert document["ok"] is False
        assert list(document["errors"][0]) == ["line", "column", "field", "message"]

    def test_raise_for_errors(self) -> None:
        assert check("id: a\nsteps:\n  - run: echo\n").raise_for_errors().id == "a"
        with pytest.raises(DefinitionInvalid) as info:
            check("id: a\n").raise_for_errors()
        assert "missing required field 'steps'" in str(info.value)


class TestModelErrors:
    def test_unknown_key_with_suggestion_at_the_key(self) -> None:
        report = check("""\
            id: job
            trigger:
              type: recurring
              crn: "30 2 * * *"
            steps:
              - run: echo
            """)
        error = only_error(report)  # no second "missing cron": the suggestion says it
        assert error.message == (
            "unknown key 'crn' (valid keys: type, cron, rrule, dtstart, every, anchor, "
            "timezone, jitter, dst, start_at, end_at, max_runs, calendar; did you mean 'cron'?)")
        assert (error.line, error.column, error.field) == (4, 3, "trigger.crn")

    def test_unknown_top_level_key(self) -> None:
        error = only_error(check("id: job\nstep:\n  - run: echo\nsteps:\n  - run: echo\n"))
        assert error.message.startswith("unknown key 'step' (valid keys: id, name, ")
        assert error.message.endswith("did you mean 'steps'?)")
        assert (error.line, error.column, error.field) == (2, 1, "step")

    def test_missing_field_at_the_parent(self) -> None:
        error = only_error(check("id: job\ntrigger:\n  type: recurring\n"
                                 "steps:\n  - run: echo\n"))
        assert error.message == ("missing required field 'cron' (or rrule, or every; for "
                                 "example cron: \"30 2 * * *\")")
        assert (error.line, error.column, error.field) == (2, 1, "trigger.cron")

    def test_missing_steps_at_the_root(self) -> None:
        error = only_error(check("id: job\n"))
        assert error.message == "missing required field 'steps'"
        assert (error.line, error.field) == (1, "steps")

    def test_literal(self) -> None:
        error = only_error(check("id: job\npolicy:\n  overlap: lates\nsteps:\n  - run: echo\n"))
        assert error.message == ("must be one of allow, skip, queue_one, cancel_previous; "
                                 "got 'lates'")
        assert (error.line, error.column, error.field) == (3, 12, "policy.overlap")

    def test_literal_with_suggestion(self) -> None:
        error = only_error(check("id: job\npolicy:\n  catchup: lates\nsteps:\n  - run: echo\n"))
        assert error.message == "must be one of latest, all, none; got 'lates'; did you mean 'latest'?"

    def test_trigger_type(self) -> None:
        error = only_error(check("id: job\ntrigger:\n  type: cron\nsteps:\n  - run: echo\n"))
        assert error.message == "trigger type must be one of event, schedule, recurring; got 'cron'"
        assert (error.line, error.column, error.field) == (3, 9, "trigger.type")

    def test_trigger_without_type(self) -> None:
        error = only_error(check("id: job\ntrigger:\n  cron: '1 * * * *'\n"
                                 "steps:\n  - run: echo\n"))
        assert error.message == ("missing required field 'type' (trigger type must be one of "
                                 "event, schedule, recurring)")
        assert (error.line, error.field) == (2, "trigger.type")

    def test_trigger_not_a_mapping(self) -> None:
        error = only_error(check("id: job\ntrigger: daily\nsteps:\n  - run: echo\n"))
        assert error.message == "expected a mapping (key: value), got a string"
        assert (error.line, error.column, error.field) == (2, 10, "trigger")

    @pytest.mark.parametrize(("value", "message"), [
        ("5", "expected a string, got an integer (quote it)"),
        ("1.5", "expected a string, got a number (quote it)"),
        ("yes", "expected a string, got a boolean (YAML reads yes, no, on, off, true and false "
                "as booleans: quote it)"),
        ("[a]", "expected a string, got a list"),
    ])
    def test_wrong_type_for_a_string(self, value: str, message: str) -> None:
        error = only_error(check(f"id: job\nname: {value}\nsteps:\n  - run: echo\n"))
        assert error.message == message
        assert (error.line, error.column, error.field) == (2, 7, "name")

    def test_wrong_type_for_an_integer(self) -> None:
        error = only_error(check("id: job\nsteps:\n  - run: echo\n    retries: '2'\n"))
        assert error.message == "expected an integer, got a string (write it without quotes)"
        assert (error.line, error.column, error.field) == (4, 14, "steps[0].retries")

    def test_bounds(self) -> None:
        report = check("id: job\npolicy:\n  max_catchup: 0\nsteps:\n  - run: echo\n"
                       "    retries: 50\n")
        assert [(e.field, e.message) for e in report.errors] == [
            ("policy.max_catchup", "must be at least 1; got 0"),
            ("steps[0].retries", "must be at most 20; got 50"),
        ]

    def test_id_pattern(self) -> None:
        report = check("id: Nightly Report\nsteps:\n  - run: echo\n")
        error = only_error(report)
        assert error.message.startswith("must be lower-case letters, digits")
        assert error.message.endswith("got 'Nightly Report'")
        assert (error.line, error.column, error.field) == (1, 5, "id")
        assert report.workflow_id is None

    def test_workflow_id_is_reported_when_other_things_fail(self) -> None:
        report = check("id: nightly\nsteps: []\n")
        assert not report.ok
        assert report.workflow_id == "nightly"

    def test_steps(self) -> None:
        assert only_error(check("id: a\nsteps: []\n")).message.startswith(
            "a workflow needs at least one step")
        error = only_error(check("id: a\nsteps: echo\n"))
        assert (error.field, error.message) == ("steps", "expected a list (- item), got a string")

    def test_step_with_run_and_http(self) -> None:
        error = only_error(check("id: a\nsteps:\n  - run: echo\n"
                                 "    http: {url: 'https://x.example'}\n"))
        assert error.message == "a step has either run (a shell command) or http, not both"
        assert (error.line, error.field) == (4, "steps[0].http")

    def test_step_with_neither(self) -> None:
        error = only_error(check("id: a\nsteps:\n  - run: echo\n  - timeout: 5m\n"))
        assert error.message == "a step needs run (a shell command) or http (a request)"
        assert (error.line, error.column, error.field) == (4, 5, "steps[1]")

    def test_duplicate_step_ids_point_at_the_second(self) -> None:
        error = only_error(check("id: a\nsteps:\n  - run: one\n  - id: step-1\n    run: two\n"))
        assert "step id 'step-1' is already used by step 1" in error.message
        assert (error.line, error.column, error.field) == (4, 9, "steps[1].id")

    def test_http_url_deep_position(self) -> None:
        error = only_error(check("id: a\nsteps:\n  - run: echo\n  - http:\n"
                                 "      url: ftp://x.example\n"))
        assert "must start with http:// or https://" in error.message
        assert (error.line, error.column, error.field) == (5, 12, "steps[1].http.url")

    def test_header_name(self) -> None:
        error = only_error(check("id: a\nsteps:\n  - http:\n      url: https://x.example\n"
                                 "      headers: {'bad name': x}\n"))
        assert error.message == "'bad name' is not a valid HTTP header name"
        assert error.field == 'steps[0].http.headers["bad name"]'
        assert error.line == 5

    def test_env_name_and_reference(self) -> None:
        report = check("id: a\nsteps:\n  - run: echo\n    env: {1A: x}\n")
        assert only_error(report).field == "steps[0].env.1A"
        report = check("id: a\nsteps:\n  - run: echo\n    env: {A: '${env:bad-name}'}\n")
        assert "is not a valid reference" in only_error(report).message

    def test_duration(self) -> None:
        error = only_error(check("id: a\nsteps:\n  - run: echo\n    timeout: 10 minutes\n"))
        assert error.message.startswith("expected a duration such as 90s")
        assert (error.line, error.column, error.field) == (4, 14, "steps[0].timeout")

    def test_inferred_payload_with_a_time_trigger(self) -> None:
        report = check(recurring("@daily") + "payload_schema_mode: inferred\n")
        error = only_error(report)
        assert "must use payload_schema_mode: pinned" in error.message
        assert "WorkflowClockTrigger.v1" in error.message
        assert (error.line, error.field) == (7, "payload_schema_mode")

    def test_inferred_payload_with_an_event_trigger_is_fine(self) -> None:
        report = check("id: a\ntrigger:\n  type: event\n  event: invoice.created\n"
                       "payload_schema_mode: inferred\nsteps:\n  - run: cat\n")
        assert report.ok, report.errors

    def test_yaml_errors_come_through_with_the_path(self) -> None:
        error = only_error(check("id: a\nid: b\nsteps:\n  - run: echo\n"))
        assert error.message.startswith("duplicate key 'id'")
        assert error.line == 2

    @pytest.mark.parametrize(("text", "expected"), [
        ("", "got an empty file"),
        ("- a\n- b\n", "got a list"),
        ("just text\n", "got a string"),
    ])
    def test_root_must_be_a_mapping(self, text: str, expected: str) -> None:
        error = only_error(check(text))
        assert error.message.startswith("a workflow definition is a mapping")
        assert error.message.endswith(expected)


class TestCron:
    @pytest.mark.parametrize(("cron", "expected"), [
        ("0 30 2 * * *", "seconds are not supported"),
        ("0 30 2 * * * 2027", "seconds are not supported (nor years)"),
        ("30 2 * *", "4 fields given"),
        ("@reboot", "@reboot is not supported"),
        ("@fortnightly", "unknown macro '@fortnightly'"),
        ("61 2 * * *", "minute field: 61 is out of range 0-59"),
        ("0 24 * * *", "hour field: 24 is out of range 0-23"),
        ("0 0 0 * *", "day-of-month field: 0 is out of range 1-31"),
        ("0 0 * 13 *", "month field: 13 is out of range 1-12"),
        ("0 0 * * 8", "day-of-week field: 8 is out of range 0-7"),
        ("*/0 * * * *", "step 0"),
        ("5-1 * * * *", "is reversed"),
        ("1,,2 * * * *", "empty list item"),
        ("0 0 * JANUARY *", "use the three-letter name JAN"),
        ("0 0 * * FUNDAY", "is not a number"),
        ("0 0 30 2 *", "can never fire"),
        ("0 0 L * *", "is not supported"),
    ])
    def test_cron_errors_point_at_the_expression(self, cron: str, expected: str) -> None:
        error = only_error(check(recurring(cron)))
        assert expected in error.message
        assert (error.line, error.column, error.field) == (4, 9, "trigger.cron")

    def test_or_rule_warning(self) -> None:
        report = check(recurring("0 12 13 * FRI"))
        assert report.ok
        assert [w.message for w in report.warnings] == [
            "day-of-month and day-of-week are both restricted, so it fires on the 13th of the "
            "month and on every Friday (Vixie cron OR rule)"]
        assert (report.warnings[0].line, report.warnings[0].field) == (4, "trigger.cron")

    def test_no_or_warning_when_a_day_field_starts_with_a_star(self) -> None:
        report = check(recurring("0 12 */2 * FRI"))
        assert report.ok
        assert not any("OR rule" in w.message for w in report.warnings)
        assert check(recurring("0 12 13 * *")).warnings == []

    def test_uneven_step_warning(self) -> None:
        report = check(recurring("*/7 * * * *"))
        assert len(report.warnings) == 1
        assert "*/7 in the minute field is uneven" in report.warnings[0].message

    def test_dst_on_a_wildcard_job_warns_at_the_key(self) -> None:
        report = check(recurring("*/15 * * * *", "America/New_York",
                                 "  dst: {gap: skip}\n"))
        assert len(report.warnings) == 1
        warning = report.warnings[0]
        assert warning.message.startswith("dst has no effect on a wildcard job")
        assert (warning.line, warning.column, warning.field) == (6, 3, "trigger.dst")


class TestDst:
    def messages(self, cron: str, extra: str = "", now: datetime = NOW,
                 zone: str = "America/New_York") -> list[str]:
        report = check(recurring(cron, zone, extra), now=now)
        assert report.ok, report.errors
        assert all(w.field == "trigger.cron" and w.line == 4 for w in report.warnings)
        return [w.message for w in report.warnings]

    GAP = "on 2027-03-14 02:30 does not exist in America/New_York; "
    FOLD = "on 2027-11-07 01:30 happens twice; "

    @pytest.mark.parametrize(("cron", "extra", "message"), [
        ("30 2 * * *", "", GAP + "it fires at 03:00 EDT (dst.gap: run_after)"),
        ("30 2 * * *", "  dst: {gap: skip}\n", GAP + "it is skipped that day (dst.gap: skip)"),
        ("30 1 * * *", "", FOLD + "it fires once, in the first pass (01:30 EDT) (dst.fold: once)"),
        ("30 1 * * *", "  dst: {fold: twice}\n",
         FOLD + "it fires in both passes (01:30 EDT and 01:30 EST) (dst.fold: twice)"),
    ], ids=["gap-run_after", "gap-skip", "fold-once", "fold-twice"])
    def test_one_time_in_one_change(self, cron: str, extra: str, message: str) -> None:
        assert self.messages(cron, extra) == [message]

    def test_several_times_in_one_change(self) -> None:
        assert self.messages("0,30 1 * * *", "  dst: {fold: twice}\n") == [
            "on 2027-11-07 01:00, 01:30 happen twice; they fire in both passes (EDT and EST) "
            "(dst.fold: twice)"]
        assert self.messages("0-59 1 * * *")[-1] == (
            "on 2027-11-07 01:00 to 01:59 (60 times) happen twice; they fire once, in the "
            "first pass (EDT) (dst.fold: once)")

    def test_only_changes_within_a_year_after_now(self) -> None:
        after_gap = datetime(2027, 3, 15, tzinfo=UTC)
        assert self.messages("30 2 * * *", now=after_gap) == [
            "on 2028-03-12 02:30 does not exist in America/New_York; it fires at 03:00 EDT "
            "(dst.gap: run_after)"]
        # Only on March 12th: the gap of 2028-03-12 is more than a year after 2027-01-01.
        assert self.messages("30 2 12 3 *") == []
        assert self.messages("30 2 12 3 *", now=after_gap) == [
            "on 2028-03-12 02:30 does not exist in America/New_York; it fires at 03:00 EDT "
            "(dst.gap: run_after)"]

    def test_a_job_that_misses_the_changed_hours_gets_no_warning(self) -> None:
        assert self.messages("30 4 * * *") == []
        assert self.messages("30 2 * * 1") == []  # 2027-03-14 is a Sunday

    def test_wildcard_jobs_and_zones_without_dst(self) -> None:
        assert self.messages("*/30 * * * *") == []
        assert self.messages("30 2 * * *", zone="Asia/Tokyo") == []
        assert self.messages("30 2 * * *", zone="UTC") == []

    def test_southern_hemisphere(self) -> None:
        assert self.messages("30 2 * * *", zone="Australia/Sydney") == [
            "on 2027-04-04 02:30 happens twice; it fires once, in the first pass (02:30 AEDT) "
            "(dst.fold: once)",
            "on 2027-10-03 02:30 does not exist in Australia/Sydney; it fires at 03:00 AEDT "
            "(dst.gap: run_after)"]

    def test_clock_correction(self) -> None:
        messages = self.messages("0 9 * * *", zone="Pacific/Apia",
                                 now=datetime(2011, 6, 1, tzinfo=UTC))
        assert any(m.startswith("on 2011-12-30 the clocks of Pacific/Apia jump ahead")
                   and "09:00 never happens that day" in m for m in messages), messages


class TestZones:
    def test_unknown_zone(self) -> None:
        error = only_error(check(recurring("0 1 * * *", "America/New_Yrok")))
        assert error.message.startswith("unknown time zone 'America/New_Yrok'")
        assert "did you mean America/New_York?" in error.message
        assert (error.line, error.column, error.field) == (5, 13, "trigger.timezone")

    @pytest.mark.parametrize(("zone", "target"), [
        ("US/Eastern", "America/New_York"),
        ("Asia/Calcutta", "Asia/Kolkata"),
        ("EST5EDT", "America/New_York"),
        ("Europe/Kiev", "Europe/Kyiv"),
        ("Universal", "UTC"),
    ])
    def test_legacy_zone_warning(self, zone: str, target: str) -> None:
        report = check(recurring("0 12 * * *", zone))
        assert report.ok
        assert len(report.warnings) == 1
        warning = report.warnings[0]
        assert warning.message.startswith(f"{zone!r} is a legacy time zone name: use {target!r}")
        assert (warning.line, warning.field) == (5, "trigger.timezone")

    def test_est_says_what_it_means(self) -> None:
        report = check(recurring("0 12 * * *", "EST"))
        assert report.warnings[0].message == (
            "'EST' is a legacy time zone name: use 'America/Panama' (EST is UTC-05:00 all year "
            "with no DST; for US Eastern time use America/New_York)")

    def test_legacy_schedule_zone(self) -> None:
        report = check(schedule("'2030-01-01T09:00:00'", "Asia/Calcutta"))
        assert [w.field for w in report.warnings] == ["trigger.timezone"]

    @pytest.mark.parametrize("zone", ["UTC", "GMT", "America/New_York", "Europe/Bratislava"])
    def test_current_names_do_not_warn(self, zone: str) -> None:
        assert check(recurring("0 12 * * *", zone)).warnings == []

    def test_every_replacement_is_a_known_zone_and_not_itself_legacy(self) -> None:
        table = legacy_zones()
        assert len(table) > 100
        for name, (target, _note) in table.items():
            get_zone(target)
            assert target not in table, name


class TestRunAt:
    def test_offset(self) -> None:
        report = check(schedule("2030-01-15T09:00:00-05:00"))
        assert report.ok and report.warnings == []
        assert report.next_fires == ["2030-01-15T09:00:00-05:00"]
        assert report.definition is not None
        assert report.definition.trigger.run_at == "2030-01-15T09:00:00-05:00"  # type: ignore[union-attr]

    def test_z(self) -> None:
        assert check(schedule("2030-01-15T14:00:00Z")).next_fires == ["2030-01-15T14:00:00+00:00"]

    def test_local_time_with_zone(self) -> None:
        report = check(schedule("2030-07-01T09:00:00", "America/New_York"))
        assert report.next_fires == ["2030-07-01T09:00:00-04:00"]

    def test_no_offset_without_zone(self) -> None:
        error = only_error(check(schedule("2030-01-15T09:00:00")))
        assert "has no UTC offset" in error.message
        assert (error.line, error.column, error.field) == (4, 11, "trigger.run_at")

    def test_not_a_date(self) -> None:
        error = only_error(check(schedule("tomorrow")))
        assert "is not an ISO 8601 date-time" in error.message

    def test_nonexistent_local_time(self) -> None:
        error = only_error(check(schedule("2030-03-10T02:30:00", "America/New_York")))
        assert "does not exist in America/New_York" in error.message
        assert error.field == "trigger.run_at"

    def test_ambiguous_local_time(self) -> None:
        error = only_error(check(schedule("2030-11-03T01:30:00", "America/New_York")))
        assert "happens twice in America/New_York" in error.message
        assert "2030-11-03T01:30:00-04:00 or 2030-11-03T01:30:00-05:00" in error.message

    def test_an_offset_makes_an_ambiguous_time_unique(self) -> None:
        report = check(schedule("2030-11-03T01:30:00-05:00", "America/New_York"))
        assert report.ok, report.errors
        assert report.next_fires == ["2030-11-03T01:30:00-05:00"]

    def test_mismatched_offset(self) -> None:
        error = only_error(check(schedule("2030-07-01T09:00:00-05:00", "America/New_York")))
        assert "has offset -0500 but America/New_York is at -0400" in error.message

    def test_past_is_a_warning_in_validate(self) -> None:
        report = check(schedule("2026-06-01T09:00:00Z"))
        assert report.ok
        assert report.next_fires == []
        assert len(report.warnings) == 1
        warning = report.warnings[0]
        assert warning.message.startswith("run_at 2026-06-01T09:00:00Z is in the past")
        assert (warning.line, warning.field) == (4, "trigger.run_at")

    def test_past_is_an_error_at_publish(self) -> None:
        report = check(schedule("2026-06-01T09:00:00Z"), for_publish=True)
        error = only_error(report)
        assert "must lie in the future when it is published" in error.message
        assert report.warnings == []

    def test_now_itself_is_past(self) -> None:
        assert check(schedule("2027-01-01T00:00:00Z")).next_fires == []


class TestStrictAndHash:
    def test_strict_turns_warnings_into_errors(self) -> None:
        text = recurring("0 12 13 * FRI")
        assert check(text).ok
        report = check(text, strict=True)
        assert not report.ok
        assert report.warnings == []
        assert report.errors[0].message.startswith("day-of-month and day-of-week")

    def test_same_content_same_hash(self) -> None:
        a = check('id: job  # the job\nsteps:\n  - run: "echo"\n    timeout: 90s\n')
        b = check("steps:\n- timeout: 1m30s\n  run: echo\nid: 'job'\npolicy: {catchup: latest}\n")
        assert a.content_hash is not None and len(a.content_hash) == 64
        assert a.content_hash == b.content_hash

    def test_different_content_different_hash(self) -> None:
        a = check("id: job\nsteps:\n  - run: echo\n")
        b = check("id: job\nsteps:\n  - run: echo hi\n")
        assert a.content_hash != b.content_hash

    def test_invalid_has_no_hash(self) -> None:
        assert check("id: job\n").content_hash is None


class TestPaths:
    def test_missing_file(self, tmp_path: Path) -> None:
        report = validate_path(tmp_path / "nope.yaml", NOW)
        assert not report.ok
        assert report.errors[0].message == "no such file"
        assert report.errors[0].line is None

    def test_directory(self, tmp_path: Path) -> None:
        report = validate_path(tmp_path, NOW)
        assert report.errors[0].message == "is a directory, not a workflow definition file"

    def test_too_large_file(self, tmp_path: Path) -> None:
        path = tmp_path / "big.yaml"
        path.write_bytes(b"id: a\n" + b"#" * (2 * 1024 * 1024))
        report = validate_path(path, NOW)
        assert "larger than 1 MiB" in report.errors[0].message

    def test_naive_now_is_refused(self) -> None:
        with pytest.raises(ValueError):
            validate_source("id: a\n", "wf.yaml", datetime(2027, 1, 1))


def test_example_of_every_finding_names_file_line_column_field() -> None:
    report = check(recurring("*/7 * 13 * FRI", "US/Eastern", "  dst: {fold: twice}\n"))
    assert len(report.warnings) == 4
    for warning in report.warnings:
        assert warning.path == "wf.yaml"
        assert warning.line is not None and warning.column is not None
        assert warning.field is not None and warning.field.startswith("trigger.")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300),
    st.lists(st.sampled_from([
        "id: a\n", "steps:\n", "  - run: x\n", "  - http: {url: 'https://x.example'}\n",
        "trigger:\n", "  type: recurring\n", "  type: schedule\n", "  cron: '*/5 * * * *'\n",
        "  run_at: 2030-01-01T00:00:00\n", "  timezone: Europe/Berlin\n", "  dst: {gap: x}\n",
        "policy: {overlap: skip}\n", "&a [*a]\n", "x: !!python/name:os.system ''\n", "- 1\n",
        "  : \n", "\t\n", "---\n", "{\n", "'\n", "  env: {A: 1}\n", "id: [\n",
    ]), max_size=12).map("".join),
))
def test_never_raises_whatever_the_input(source: bytes | str) -> None:
    report = validate_source(source, "fuzz.yaml", NOW)
    assert report.ok == (report.errors == [])
    for diagnostic in [*report.errors, *report.warnings]:
        assert diagnostic.path == "fuzz.yaml" and diagnostic.message
    if report.ok:
        assert report.definition is not None and report.content_hash is not None


def test_warnings_are_sorted_by_position() -> None:
    report = check(recurring("*/7 * 13 * FRI", "US/Eastern"))
    positions = [(w.line or 0, w.column or 0) for w in report.warnings]
    assert positions == sorted(positions)
