"""The README's "Coming from crontab" and "Definitions in git" examples are real output."""

from __future__ import annotations

import re
from pathlib import Path

from .cli_support import ROOT, Clockwf

README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.index("\n## ", start + 1)
    return README[start:end]


def blocks(text: str) -> list[tuple[str, str]]:
    return re.findall(r"```(\w*)\n(.*?)```", text, re.S)


def test_coming_from_crontab_and_definitions_in_git(clockwf: Clockwf, tmp_path: Path) -> None:
    (lang1, crontab), (_, messages), (lang3, after) = blocks(section("Coming from crontab"))[:3]
    assert (lang1, lang3) == ("crontab", "yaml")
    (tmp_path / "crontab").write_text(crontab)
    result = clockwf("import", "crontab", "crontab", "--out", "schedules", cwd=tmp_path)
    assert result.code == 0, result.err
    assert result.err == messages
    assert (tmp_path / "schedules" / "mail-s-weekly-report.yaml").read_text() == after
    assert sorted(p.name for p in (tmp_path / "schedules").iterdir()) == [
        "backup.sh-full.yaml", "mail-s-weekly-report.yaml"]

    (lang, console), = blocks(section("Definitions in git"))
    command, _, shown = console.partition("\n")
    assert (lang, command) == ("console", "$ clockwf diff schedules --prune")
    db = str(tmp_path / "c.db")
    now = ("--now", "2027-03-01T08:00:00Z")
    assert clockwf("publish", "schedules", "--db", db, *now, cwd=tmp_path).code == 0
    backup = tmp_path / "schedules" / "backup.sh-full.yaml"
    backup.write_text(backup.read_text().replace("cron: 30 2 * * 1-5", "cron: 45 2 * * 1-5"))
    (tmp_path / "schedules" / "mail-s-weekly-report.yaml").unlink()
    diff = clockwf("diff", "schedules", "--prune", "--db", db, *now, cwd=tmp_path)
    assert diff.code == 0, diff.err
    assert diff.out == shown
    check = clockwf("diff", "schedules", "--prune", "--check", "--db", db, *now, cwd=tmp_path)
    assert check.code == 1
