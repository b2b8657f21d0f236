"""The CI examples run: their clockwf commands, read from the YAML files, against a real store.

Both files are parsed, the pull-request and main-branch jobs are found by their conditions, and
every ``clockwf`` command line of their steps is executed, in order, in a git repository laid
out as the comments of the examples say (definitions in ``schedules/``, the base branch checked
out in ``base/`` for the drift check). So the examples cannot drift from what clockwf does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "examples" / "ci"
REMOTE = "https://ci-bot:SECRET-TOKEN@git.example.com/ops.git"
SOURCE = "https://git.example.com/ops.git//schedules"


def definition(wid: str, cron: str) -> str:
    return (f"id: {wid}\ntrigger: {{type: recurring, cron: '{cron}', timezone: UTC}}\n"
            "steps:\n  - run: echo hi\n")


def _clockwf_lines(script: list[str]) -> list[str]:
    lines = [line.strip() for block in script for line in block.splitlines()]
    return [line for line in lines if line.startswith("clockwf ")]


def github() -> tuple[dict[str, Any], list[str], list[str]]:
    doc = yaml.safe_load((CI / "github-actions.yml").read_text())
    jobs = doc["jobs"]
    pr, main = jobs["pull-request"], jobs["main"]
    assert "pull_request" in doc[True] and doc[True]["push"]["branches"] == ["main"]
    assert pr["if"] == "github.event_name == 'pull_request'"
    assert "refs/heads/main" in main["if"]
    for job in (pr, main):
        assert job["env"]["CLOCKWF_DB"] == "${{ secrets.CLOCKWF_DB }}"
    assert {"ref": "${{ github.base_ref }}", "path": "base"} in [
        s.get("with") for s in pr["steps"]]
    env = {k: v for k, v in main["env"].items() if k != "CLOCKWF_DB"}
    return (env, _clockwf_lines([s["run"] for s in pr["steps"] if "run" in s]),
            _clockwf_lines([s["run"] for s in main["steps"] if "run" in s]))


def gitlab() -> tuple[dict[str, Any], list[str], list[str]]:
    doc = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    pr, main = doc["clockwf-merge-request"], doc["clockwf-publish"]
    assert pr["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
    assert main["rules"][0]["if"] == "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"
    assert "CLOCKWF_DB" not in doc["variables"]        # a masked CI/CD variable, not in git
    assert "git worktree add -q base FETCH_HEAD" in pr["script"]
    return dict(doc["variables"]), _clockwf_lines(pr["script"]), _clockwf_lines(main["script"])


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   timeout=60)


class Pipeline:
    def __init__(self, repo: Path, env: dict[str, str]) -> None:
        self.repo = repo
        self.env = env

    def run(self, line: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["sh", "-c", line], cwd=self.repo, env=self.env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert "SECRET-TOKEN" not in proc.stdout + proc.stderr
        return proc

    def job(self, lines: list[str]) -> list[subprocess.CompletedProcess[str]]:
        return [self.run(line) for line in lines]

    def workflows(self) -> dict[str, dict[str, Any]]:
        proc = self.run("clockwf list --format json")
        assert proc.returncode == 0, proc.stderr
        return {w["workflow_id"]: w for w in json.loads(proc.stdout)["workflows"]}


@pytest.mark.parametrize("system", ["github", "gitlab"])
def test_ci_example_commands(system: str, store_url: str, namespace: str,
                             tmp_path: Path) -> None:
    variables, pr_lines, main_lines = github() if system == "github" else gitlab()
    assert [line.split()[1] for line in pr_lines] == ["validate", "diff", "diff"]
    assert "--check" in pr_lines[2] and "base/schedules" in pr_lines[2]
    assert [line.split()[1] for line in main_lines] == ["validate", "publish", "diff"]
    assert "--prune" in main_lines[1] and "--check" in main_lines[2]

    repo = tmp_path / "repo"
    (repo / "schedules").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "remote", "add", "origin", REMOTE)
    for wid, cron in (("a", "0 1 * * *"), ("b", "0 2 * * *"), ("c", "0 3 * * *")):
        (repo / "schedules" / f"{wid}.yaml").write_text(definition(wid, cron))
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "one")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOCKWF_")}
    env.update({k: str(v) for k, v in variables.items()})
    env.update(CLOCKWF_DB=store_url, CLOCKWF_NAMESPACE=namespace,
               PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))
    ci = Pipeline(repo, env)

    # main: the first publish
    assert [p.returncode for p in ci.job(main_lines)] == [0, 0, 0]
    assert {w: (d["status"], d["published_from"]) for w, d in ci.workflows().items()} == {
        w: ("published", SOURCE) for w in "abc"}

    # a pull request: a changed, c removed, d new; the base branch checked out in base/
    git(repo, "worktree", "add", "-q", "base", "HEAD")
    (repo / "schedules" / "a.yaml").write_text(definition("a", "30 1 * * *"))
    (repo / "schedules" / "c.yaml").unlink()
    (repo / "schedules" / "d.yaml").write_text(definition("d", "0 4 * * *"))
    validate, plan, drift = ci.job(pr_lines)
    assert (validate.returncode, plan.returncode, drift.returncode) == (0, 0, 0), drift.stdout
    assert "changed    a" in plan.stdout and "new        d" in plan.stdout
    assert "removed    c" in plan.stdout and "unchanged  b" in plan.stdout
    assert "next fires after:" in plan.stdout
    assert "0 unchanged" not in drift.stdout and "3 unchanged" in drift.stdout

    # someone publishes b by hand: the drift check of the pull request now fails
    hand = tmp_path / "b.yaml"
    hand.write_text(definition("b", "0 5 * * *"))
    assert ci.run(f"clockwf publish {hand}").returncode == 0
    assert ci.job(pr_lines)[2].returncode == 1

    # merged: main publishes the branch, pausing c (1 of 3: no --yes needed)
    assert [p.returncode for p in ci.job(main_lines)] == [0, 0, 0]
    assert {w: d["status"] for w, d in ci.workflows().items()} == {
        "a": "published", "b": "published", "c": "paused", "d": "published"}
