"""``clockwf import crontab``: a crontab with every case, imported, validated, compared with cron.

For each imported job, ``clockwf next`` on the generated file must give the fires that cron gives
for the crontab line: cronsim is the independent oracle (in the zones and windows where it agrees
with cronie; tests/unit/test_cron_properties.py lists where it does not). For the jobs whose
meaning depends on cron's process set-up (the % standard input, SHELL, HOME, PATH, settings),
the generated step is run for real by the daemon and its output compared with ``$SHELL -c``
fed the same standard input in cron's environment; the command and input expected there are
written out by hand from crontab(5), not taken from the importer.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim

from clockwf.cli import main

from .cli_support import Clockwf

LONG = "x" * 3000
CRONTAB = """\
# A crontab with every case the import keeps, and some it refuses.
MAILTO=ops@example.com
HOME={home}

30 2 * * 1-5 /usr/local/bin/backup.sh --full >> /dev/null 2>&1
30 2 * * * echo gap-in-berlin
0 9 1,15 * MON echo or-rule
15 10 */2 * 1-5 echo star-day-of-month-means-and
*/15 9-17 * * * echo business-quarter-hours
   @daily echo daily
@weekly echo weekly
@hourly echo hourly
@reboot echo boot
CRON_TZ=America/New_York
30 1 * * * echo new-york-fold
@yearly echo yearly-in-new-york
GREETING = "hello world"
CRON_TZ=Europe/Paris
0 3 * * 7 echo sunday-as-seven
0 6 * * * printf '\\%s|' "a\\%b"; cat%line one%line two\\%x%%last
0 7 * * * cat%
0 8 * * * wc -c
0 9 * * * pwd; echo "$GREETING $PATH"
SHELL=/bin/bash
0 10 * * * echo $((1+2)) ${{BASH_VERSION:+bash}}; cat%from bash
0 11 * * * echo {long} | wc -c
0 12 * * * echo continuation \\
0 13 * * * echo next-line
61 * * * * echo bad-minute
0 0 30 2 * echo never
"""
REFUSED = {13: "@reboot", 29: "minute", 30: "never fire"}
ZONES = {**{line: "Europe/Berlin" for line in (5, 6, 7, 8, 9, 10, 11, 12)},
         15: "America/New_York", 16: "America/New_York",
         **{line: "Europe/Paris" for line in (19, 20, 21, 22, 23, 25, 26, 27, 28)}}
# What cron runs for the lines run for real below: (shell, command, standard input).
CRON_RUNS = {
    20: ("/bin/sh", "printf '%s|' \"a%b\"; cat", "line one\nline two%x\n\nlast\n"),
    21: ("/bin/sh", "cat", ""),
    22: ("/bin/sh", "wc -c", ""),
    23: ("/bin/sh", "pwd; echo \"$GREETING $PATH\"", ""),
    25: ("/bin/bash", "echo $((1+2)) ${BASH_VERSION:+bash}; cat", "from bash\n"),
    26: ("/bin/bash", f"echo {LONG} | wc -c", ""),
    27: ("/bin/bash", "echo continuation \\", ""),
}
MACROS = {"@yearly": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
          "@daily": "0 0 * * *", "@hourly": "0 * * * *"}   # crontab(5)
STARTS = ("2027-03-20T12:00:00+00:00", "2027-10-28T12:00:00+00:00")


@pytest.fixture
def imported(clockwf: Clockwf, tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    home = tmp_path / "home"
    home.mkdir()
    crontab = tmp_path / "crontab"
    crontab.write_text(CRONTAB.format(home=home, long=LONG))
    out = tmp_path / "defs"
    result = clockwf("import", "crontab", str(crontab), "--out", str(out),
                     "--timezone", "Europe/Berlin", "--format", "json")
    assert result.code == 0, result.err
    return home, out, result.json()


def test_every_job_imported_or_refused_with_its_line(
        clockwf: Clockwf, imported: tuple[Path, Path, dict[str, Any]]) -> None:
    _, out, doc = imported
    workflows = doc["workflows"]
    findings = doc["findings"]
    assert isinstance(workflows, list) and isinstance(findings, list)
    lines = sorted(w["line"] for w in workflows)
    assert lines == sorted(ZONES)
    refused = {f["line"]: f["message"] for f in findings if f["severity"] == "refused"}
    assert sorted(refused) == sorted(REFUSED)
    for line, word in REFUSED.items():
        assert word in refused[line]
    notes = {f["line"]: f["message"] for f in findings if f["severity"] == "note"}
    assert "MAILTO=ops@example.com becomes a notify target" in notes[2]
    assert "Vixie cron OR rule" in notes[7]
    for w in workflows:
        assert w["timezone"] == ZONES[w["line"]]
        text = Path(w["file"]).read_text()
        original = CRONTAB.format(home=imported[0], long=LONG).split("\n")[w["line"] - 1]
        assert f"#   {original}\n" in text
    ids = [w["workflow_id"] for w in workflows]
    assert len(set(ids)) == len(ids)
    files = sorted(str(p) for p in out.glob("*.yaml"))
    assert len(files) == len(workflows)
    check = clockwf("validate", *files)
    assert check.code == 0, check.out + check.err
    again = clockwf("import", "crontab", doc["source"], "--timezone", "Europe/Berlin",
                    "--format", "json")
    assert [w["workflow_id"] for w in again.json()["workflows"]] == ids   # stable ids
    assert [w["definition"] for w in again.json()["workflows"]] == [
        Path(w["file"]).read_text() for w in workflows]


def _cronsim_fires(schedule: str, zone: str, start: str, count: int) -> list[str]:
    fields = MACROS.get(schedule, schedule)
    after = datetime.fromisoformat(start).astimezone(ZoneInfo(zone))
    return [d.isoformat() for d in islice(CronSim(fields, after), count)]


@pytest.mark.parametrize("start", STARTS)
def test_next_fires_are_crons(imported: tuple[Path, Path, dict[str, Any]], start: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    _, _, doc = imported
    workflows = doc["workflows"]
    assert isinstance(workflows, list)
    capsys.readouterr()
    for w in workflows:
        # the command line in this process (one subprocess per job would only add start-up)
        code = main(["next", w["file"], "-n", "12", "--now", start, "--format", "json"])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        ours = [f["at"] for f in json.loads(captured.out)["fires"]]
        # the schedule and zone as the crontab says them, not as the import wrote them
        words = CRONTAB.split("\n")[w["line"] - 1].split()
        schedule = words[0] if words[0].startswith("@") else " ".join(words[:5])
        zone = ZONES[w["line"]]
        assert ours == _cronsim_fires(schedule, zone, start, 12), (w["line"], schedule)


def _run_output(clockwf: Clockwf, db: str, workflow_id: str) -> tuple[str, str]:
    started = clockwf("run", workflow_id, "--db", db, "--payload", '{"not": "stdin"}',
                      "--format", "json")
    assert started.code == 0, started.err
    return workflow_id, str(started.json()["run_id"])


def test_generated_steps_run_as_cron_would(
        clockwf: Clockwf, imported: tuple[Path, Path, dict[str, Any]],
        tmp_path: Path) -> None:
    home, out, doc = imported
    workflows = doc["workflows"]
    assert isinstance(workflows, list)
    by_line = {w["line"]: w["workflow_id"] for w in workflows}
    db = str(tmp_path / "runs.db")
    published = clockwf("publish", str(out), "--db", db)
    assert published.code == 0, published.err
    runs = {line: _run_output(clockwf, db, by_line[line])[1] for line in CRON_RUNS}
    daemon = clockwf("daemon", "--exit-when-idle", "--db", db)
    assert daemon.code == 0, daemon.err
    for line, (shell, command, stdin) in CRON_RUNS.items():
        env = {"HOME": str(home), "SHELL": shell, "PATH": "/usr/bin:/bin",
               "GREETING": "hello world"}
        expected = subprocess.run([shell, "-c", command], input=stdin.encode(), cwd=home,
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=30, check=False)
        shown = clockwf("runs", "show", runs[line], "--db", db, "--format", "json").json()
        step = shown["steps"][0]
        assert (step["output"] or "", step["exit_code"]) == (
            expected.stdout.decode(), expected.returncode), line
    # the cases mean something: the input is the % text (or nothing), not clockwf's payload
    first = clockwf("runs", "show", runs[20], "--db", db, "--format", "json").json()
    assert first["steps"][0]["output"] == "a%b|line one\nline two%x\n\nlast\n"
    counted = clockwf("runs", "show", runs[22], "--db", db, "--format", "json").json()
    assert counted["steps"][0]["output"].strip() == "0"


def test_system_crontab_user_becomes_a_note(clockwf: Clockwf, tmp_path: Path) -> None:
    system = tmp_path / "cron.d-job"
    system.write_text("SHELL=/bin/sh\n17 * * * * root cd / && run-parts --report "
                      "/etc/cron.hourly\n25 6 * * * no-such-user-x echo x\n")
    result = clockwf("import", "crontab", str(system), "--system", "--timezone", "UTC")
    assert result.code == 0, result.err
    assert "User root: clockwf runs steps as its own user" in result.out
    assert "crontab user: root" in result.out
    assert f"{system}:3: refused: user 'no-such-user-x' does not exist" in result.err
    assert "1 job(s) imported, 1 line(s) refused" in result.err
    strict = clockwf("import", "crontab", str(system), "--system", "--strict",
                     "--out", str(tmp_path / "none"))
    assert strict.code == 1
    assert not (tmp_path / "none").exists()


def test_without_a_file_it_reads_crontab_l(clockwf: Clockwf, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bin" / "crontab"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n[ \"$1\" = -l ] || exit 2\nprintf '0 1 * * * echo hi\\n'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    result = clockwf("import", "crontab", "--timezone", "UTC", "--format", "json")
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["source"] == "crontab -l"
    assert [(w["workflow_id"], w["line"]) for w in doc["workflows"]] == [("echo-hi", 1)]
    fake.write_text("#!/bin/sh\necho 'no crontab for someone' >&2\nexit 1\n")
    failed = clockwf("import", "crontab")
    assert failed.code == 1
    assert "`crontab -l` failed: no crontab for someone" in failed.err
