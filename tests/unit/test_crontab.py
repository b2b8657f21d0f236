"""The crontab reader: cron's % rule, its NAME=value grammar, line handling and ids.

The expected values are written out from cron's documented behaviour (crontab(5): "Percent-signs
(%) in the command, unless escaped with backslash (\\), will be changed into newline
characters, and all data after the first % will be sent to the command as standard input";
cronie's do_command.c adds a final newline when the text lacks one, and env.c's grammar for
settings), not computed by the code under test.
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clockwf.crontab import (
    assign_ids,
    cron_stdin,
    import_crontab,
    mail_command,
    parse,
    parse_assignment,
    slug,
    split_percent,
)
from clockwf.models import ID_PATTERN

NOW = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("line", "command", "stdin"), [
    ("cat", "cat", ""),
    ("cat%a%b", "cat", "a\nb\n"),
    ("cat%a%", "cat", "a\n"),
    ("cat%", "cat", ""),                        # nothing after the %: nothing is written
    ("cat%%", "cat", "\n"),
    ("echo 100\\%", "echo 100%", ""),           # \% in the command is a literal %
    ("echo 100\\% done%x", "echo 100% done", "x\n"),
    ("cat%50\\% off", "cat", "50% off\n"),      # \% in the input too
    ("cat%x\\y", "cat", "x\\y\n"),              # other backslashes are kept
    ("echo a\\b", "echo a\\b", ""),
    ("printf x\\\\%y", "printf x\\\\", "y\n"),  # an escaped backslash does not escape the %
    ("date +\\%Y-\\%m-\\%d", "date +%Y-%m-%d", ""),
    ("cat%ends with backslash\\", "cat", "ends with backslash\\\n"),
])
def test_percent_rule(line: str, command: str, stdin: str) -> None:
    got_command, data = split_percent(line)
    assert (got_command, cron_stdin(data)) == (command, stdin)


@settings(max_examples=300, derandomize=True)
@given(st.text(alphabet="ab %\n", max_size=30))
def test_percent_rule_without_backslashes(line: str) -> None:
    """Without backslashes: the command is the text before the first %, the input the rest
    with % as newlines and a final newline when missing (none when the rest is empty)."""
    got_command, data = split_percent(line)
    head, sep, rest = line.partition("%")
    assert got_command == head
    expected = rest.replace("%", "\n")
    if expected and not expected.endswith("\n"):
        expected += "\n"
    assert cron_stdin(data) == (expected if sep else "")


@pytest.mark.parametrize(("text", "expected"), [
    ("A=b", ("A", "b")),
    ("A = b   ", ("A", "b")),                   # blanks around = and trailing blanks go
    ("A=b c", ("A", "b c")),
    ("A=\"b c\"", ("A", "b c")),
    ("A='b c'  ", ("A", "b c")),
    ("A=\"\"", ("A", "")),
    ("MAILTO=\"\"", ("MAILTO", "")),
    ("\"A B\"=c", ("A B", "c")),
    ("A='b'c", None),                           # text after the closing quote
    ("A=", None),                               # no value at all: not a setting
    ("A b=c", None),
    ("0 * * * * A=b", None),
    ("*/5 * * * * x=1", None),
    ("@daily A=b", None),
    ("PATH=$PATH:/opt/bin", ("PATH", "$PATH:/opt/bin")),   # not expanded by cron
])
def test_setting_grammar(text: str, expected: tuple[str, str] | None) -> None:
    assert parse_assignment(text) == expected


def test_settings_apply_to_the_jobs_after_them_only() -> None:
    jobs, findings = parse("0 1 * * * first\nA=1\n0 2 * * * second\nA=2\n0 3 * * * third\n")
    assert [(j.line, j.command, {k: v.value for k, v in j.env.items()}) for j in jobs] == [
        (1, "first", {}), (3, "second", {"A": "1"}), (5, "third", {"A": "2"})]
    assert findings == []


def test_refusals_name_their_line_and_nothing_is_silently_dropped() -> None:
    text = ("# comment\n"
            "   # indented comment\n"
            "\n"
            "@reboot /bin/start\n"
            "@fortnightly x\n"
            "0 0 30 2 * never\n"
            "* * * * * * seconds\n"
            "0 1 * *\n"
            "0 1 * * * fine\n"
            "61 * * * * bad-minute\n"
            "0 1 * * * windows\r\n"
            "0 2 * * * no-newline")
    jobs, findings = parse(text)
    assert [j.line for j in jobs] == [9]
    refused = {f.line: f.message for f in findings if f.severity == "refused"}
    assert sorted(refused) == [4, 5, 6, 7, 8, 10, 11, 12]
    assert "@reboot" in refused[4]
    assert "fortnightly" in refused[5]
    assert "never fire" in refused[6]
    assert "sixth" in refused[7]
    assert "five time fields" in refused[8]
    assert "minute" in refused[10]
    assert "carriage return" in refused[11]
    assert "newline" in refused[12]
    # every non-comment, non-blank line is either a job or a finding
    assert len(jobs) + len(refused) == 9


def test_no_continuation_lines() -> None:
    jobs, _ = parse("0 1 * * * echo a \\\n0 2 * * * echo b\n")
    assert [(j.line, j.command) for j in jobs] == [(1, "echo a \\"), (2, "echo b")]


def test_system_crontab_user_field() -> None:
    jobs, findings = parse("17 * * * * root cd / && run-parts /etc/cron.hourly\n"
                           "0 1 * * * nobody\n", system=True)
    assert [(j.user, j.command) for j in jobs] == [("root", "cd / && run-parts "
                                                   "/etc/cron.hourly")]
    assert [f.line for f in findings if f.severity == "refused"] == [2]


@pytest.mark.parametrize(("command", "expected"), [
    ("/usr/local/bin/backup.sh --full >> /var/log/backup.log 2>&1", "backup.sh-full"),
    ("cd /srv/app && ./manage.py clearsessions", "manage.py-clearsessions"),
    ("/usr/bin/php /var/www/artisan schedule:run > /dev/null 2>&1",
     "php-artisan-schedule-run"),
    ("nice -n 10 pg_dump mydb | gzip > /backups/db.gz", "pg_dump-mydb"),
    ("FOO=1 /opt/x/report", "report"),
    ("%%%", "job"),
    ("'unbalanced", "unbalanced"),
])
def test_ids_are_readable(command: str, expected: str) -> None:
    assert slug(command) == expected


@settings(max_examples=200, derandomize=True)
@given(st.lists(st.text(min_size=1, max_size=80), min_size=1, max_size=12))
def test_ids_are_valid_unique_and_stable(commands: list[str]) -> None:
    text = "".join(f"0 1 * * * {c}\n" for c in commands if "\n" not in c and "\r" not in c
                   and c.strip(" \t") and not c.lstrip(" \t").startswith("*"))
    jobs, _ = parse(text)
    ids = [wid for wid, _ in assign_ids(jobs)]
    assert len(set(ids)) == len(ids)
    assert all(re.match(ID_PATTERN, wid) for wid in ids)
    assert ids == [wid for wid, _ in assign_ids(parse(text)[0])]


def test_generated_definitions_validate_and_keep_the_line() -> None:
    text = ("CRON_TZ=Europe/Paris\nMAILTO=ops@example.com\nGREETING=hi there\n"
            "30 2 * * 1-5 /usr/local/bin/backup.sh --full\n"
            "30 2 * * 1-5 /usr/local/bin/backup.sh --full\n"
            "@hourly cat%a%b\n")
    result = import_crontab(text, "crontab", NOW, default_zone="UTC",
                            home=lambda user: "/home/someone")
    assert [w.workflow_id for w in result.workflows][:2] != ["backup.sh-full"] * 2
    assert len({w.workflow_id for w in result.workflows}) == 3
    for w in result.workflows:
        assert w.report is not None and w.report.ok
        assert f"#   {w.job.text}" in w.yaml
        assert w.timezone == "Europe/Paris"
        definition = w.report.definition
        assert definition is not None
        assert (definition.policy.catchup, definition.policy.overlap) == ("none", "allow")
        step = definition.steps[0]
        assert step.env["GREETING"] == "hi there"
        assert step.env["PATH"] == "/usr/bin:/bin" and step.env["SHELL"] == "/bin/sh"
        assert step.cwd == "/home/someone" == step.env["HOME"]
        assert "MAILTO" not in step.env and "CRON_TZ" not in step.env
        assert definition.notify is not None
        assert [t.command for t in definition.notify.to] == [
            mail_command("ops@example.com", w.workflow_id)]
    assert any(f.line == 2 and "MAILTO=ops@example.com becomes a notify target" in f.message
               for f in result.findings)


def test_mailto_mails_the_notification_through_sendmail(tmp_path: Path) -> None:
    """The MAILTO target, run as the notifier runs it (the notification JSON on stdin), hands
    sendmail -t a message with the addresses and the workflow in its header and the
    notification as its body (sendmail itself stood in by a recorder: no MTA here)."""
    recorder = tmp_path / "sendmail"
    recorder.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" > {tmp_path}/args\n"
                        f"cat > {tmp_path}/mail\n")
    recorder.chmod(0o755)
    command = mail_command("ops@example.com, dba@example.com", "backup.sh-full")
    assert command.endswith("| /usr/sbin/sendmail -t")
    body = json.dumps({"schema": "clockwf.Notification.v1", "event": "failed"})
    subprocess.run(["/bin/sh", "-c", command.replace("/usr/sbin/sendmail", str(recorder))],
                   input=body, text=True, check=True, timeout=30)
    assert (tmp_path / "args").read_text() == "-t\n"
    head, _, rest = (tmp_path / "mail").read_text().partition("\n\n")
    assert head.splitlines() == ["To: ops@example.com, dba@example.com",
                                 "Subject: clockwf: backup.sh-full"]
    assert json.loads(rest) == json.loads(body)


def test_an_empty_mailto_means_no_mail() -> None:
    result = import_crontab("MAILTO=\"\"\n0 1 * * * a\n", "c", NOW, default_zone="UTC",
                            home=lambda user: "/home/someone")
    [w] = result.workflows
    assert w.report is not None and w.report.definition is not None
    assert w.report.definition.notify is None
    assert any(f.line == 1 and "no mail, as under cron" in f.message for f in result.findings)


def test_unknown_zone_and_user_are_refused_with_the_line() -> None:
    result = import_crontab("CRON_TZ=Mars/Olympus\n0 1 * * * a\n", "c", NOW,
                            default_zone="UTC")
    assert [(f.line, f.severity) for f in result.findings] == [(2, "refused")]
    assert "CRON_TZ=Mars/Olympus (line 1)" in result.findings[0].message
    result = import_crontab("0 1 * * * no-such-user-here x\n", "c", NOW, system=True,
                            default_zone="UTC")
    assert [(f.line, f.severity) for f in result.findings] == [(1, "refused")]
    assert "does not exist" in result.findings[0].message


def test_env_that_clockwf_cannot_pass_is_refused() -> None:
    result = import_crontab("MY-VAR=1\n0 1 * * * a\nMY-VAR=2\nX=${env:SECRET}\n0 2 * * * b\n",
                            "c", NOW, default_zone="UTC", home=lambda user: "/tmp")
    refused = {f.line: f.message for f in result.findings if f.severity == "refused"}
    assert sorted(refused) == [2, 5]
    assert "MY-VAR" in refused[2] and "line 1" in refused[2]
    assert "MY-VAR= (line 3)" in refused[5] and "X= (line 4) contains '${env:'" in refused[5]


def test_secrets_are_not_copied_into_definitions() -> None:
    text = ("DB_PASSWORD=hunter2\nDATABASE_URL=postgresql://app:s3cr3t@db/app\nPLAIN=visible\n"
            "0 1 * * * backup\n0 2 * * * report\n")
    result = import_crontab(text, "c", NOW, default_zone="UTC", home=lambda user: "/tmp")
    assert len(result.workflows) == 2
    for w in result.workflows:
        assert "hunter2" not in w.yaml and "s3cr3t" not in w.yaml
        assert w.report is not None and w.report.definition is not None
        env = w.report.definition.steps[0].env
        assert env["DB_PASSWORD"] == "${env:DB_PASSWORD}"
        assert env["DATABASE_URL"] == "${env:DATABASE_URL}"
        assert env["PLAIN"] == "visible"
    notes = [(f.line, f.message) for f in result.findings]
    assert [line for line, _ in notes] == [1, 2]          # once per setting, not per job
    assert all("hunter2" not in m and "s3cr3t" not in m for _, m in notes)


def test_tabs_separate_fields_and_stay_in_commands() -> None:
    jobs, _ = parse("@daily\tprintf 'a\\tb'\t|\tcat\n0\t1\t*\t*\t*\tx\ty\n"
                    "1 2 * * * root\tcmd\targ\n")
    assert [(j.schedule, j.command) for j in jobs] == [
        ("@daily", "printf 'a\\tb'\t|\tcat"), ("0 1 * * *", "x\ty"), ("1 2 * * *", "root\tcmd\targ")]
    system, _ = parse("@daily\troot\tcmd\targ\n", system=True)
    assert [(j.user, j.command) for j in system] == [("root", "cmd\targ")]
