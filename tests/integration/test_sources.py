"""Definition sets: which files a directory stands for, and the source name it publishes as."""

from __future__ import annotations

import subprocess
from pathlib import Path

from clockwf.sources import default_source, directory_files, expand, without_credentials


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, timeout=60)


def test_directory_files_follow_the_hook_rules(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yml", "notes.txt", "sub/c.yaml", "sub/deeper/d.yml",
                 ".github/workflows/ci.yml", ".git/x.yaml", ".hidden/e.yaml",
                 ".clockwf/f.yaml", "sub/.github/g.yaml"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("id: x\n")
    found = [Path(p).relative_to(tmp_path).as_posix() for p in directory_files(str(tmp_path))]
    assert found == [".clockwf/f.yaml", "a.yaml", "b.yml", "sub/c.yaml", "sub/deeper/d.yml"]
    empty = tmp_path / "empty"
    empty.mkdir()
    # an empty directory stays itself, so that validation reports it instead of an empty set
    assert expand([str(empty), "-", str(tmp_path / "a.yaml")]) == [
        str(empty), "-", str(tmp_path / "a.yaml")]


def test_default_source(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert default_source(str(plain)) == str(plain.resolve())
    repo = tmp_path / "repo"
    (repo / "ops" / "schedules").mkdir(parents=True)
    git(repo, "init", "-q")
    assert default_source(str(repo / "ops")) == str((repo / "ops").resolve())   # no remote
    git(repo, "remote", "add", "upstream", "git@git.example.com:team/ops.git")
    assert default_source(str(repo / "ops" / "schedules")) == \
        "git@git.example.com:team/ops.git//ops/schedules"
    git(repo, "remote", "add", "origin", "https://bot:tok3n@git.example.com/team/ops.git")
    assert default_source(str(repo)) == "https://git.example.com/team/ops.git"   # origin first
    assert default_source(str(repo / "ops")) == "https://git.example.com/team/ops.git//ops"


def test_without_credentials() -> None:
    assert without_credentials("https://u:p@h.example/x.git") == "https://h.example/x.git"
    assert without_credentials("ssh://git@h.example:22/x.git") == "ssh://h.example:22/x.git"
    assert without_credentials("git@h.example:x.git") == "git@h.example:x.git"
    assert without_credentials("/srv/git/x.git") == "/srv/git/x.git"
