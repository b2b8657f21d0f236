"""``clockwf validate``: output shapes, exit codes, stdin, --strict."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from .cli_support import ROOT, Clockwf

NOW = ("--now", "2027-01-01T00:00:00Z")
EXAMPLES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples").glob("*.yaml"))
INVALID = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples" / "invalid").glob("*.yaml"))
ISO_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


def assert_report_shape(entry: dict[str, object]) -> None:
    assert list(entry) == ["path", "ok", "workflow_id", "errors", "warnings", "next_fires"]
    assert isinstance(entry["path"], str) and isinstance(entry["ok"], bool)
    assert entry["workflow_id"] is None or isinstance(entry["workflow_id"], str)
    for key in ("errors", "warnings"):
        items = entry[key]
        assert isinstance(items, list)
        for item in items:
            assert list(item) == ["line", "column", "field", "message"]
            assert item["line"] is None or isinstance(item["line"], int)
            assert item["column"] is None or isinstance(item["column"], int)
            assert item["field"] is None or isinstance(item["field"], str)
            assert isinstance(item["message"], str) and item["message"]
    fires = entry["next_fires"]
    assert isinstance(fires, list)
    assert all(isinstance(f, str) and ISO_OFFSET.match(f) for f in fires), fires


def test_every_example_is_valid(clockwf: Clockwf) -> None:
    result = clockwf("validate", "--format", "json", *NOW, *EXAMPLES)
    assert result.code == 0, result.out
    document = result.json()
    assert list(document) == ["files"]
    assert [f["path"] for f in document["files"]] == EXAMPLES
    for entry in document["files"]:
        assert_report_shape(entry)
        assert entry["ok"] is True and entry["errors"] == []
    nightly = next(f for f in document["files"] if f["workflow_id"] == "nightly-report")
    assert nightly["next_fires"] == [f"2027-01-0{d}T02:30:00-05:00" for d in range(1, 6)]
    assert [w["message"] for w in nightly["warnings"]] == [
        "on 2027-03-14 02:30 does not exist in America/New_York; it fires at 03:00 EDT "
        "(dst.gap: run_after)"]
    migration = next(f for f in document["files"] if f["workflow_id"] == "one-time-migration")
    assert migration["next_fires"] == ["2030-01-15T09:00:00+01:00"]


def test_every_invalid_example_fails_with_its_message_field_and_line(clockwf: Clockwf) -> None:
    result = clockwf("validate", "--format", "json", *NOW, *INVALID)
    assert result.code == 1
    files = result.json()["files"]
    assert len(files) == len(INVALID) >= 15
    for entry in files:
        assert_report_shape(entry)
        assert entry["ok"] is False
        text = (ROOT / entry["path"]).read_text()
        message = re.search(r"^# expect: (.+)$", text, re.M)
        field = re.search(r"^# expect-field: (.+)$", text, re.M)
        line = re.search(r"^# expect-line: (\d+)$", text, re.M)
        assert message and field and line, entry["path"]
        want_field = None if field.group(1) == "-" else field.group(1)
        assert any(message.group(1) in e["message"] and e["field"] == want_field
                   and e["line"] == int(line.group(1)) for e in entry["errors"]), entry


def test_human_output_names_file_line_column(clockwf: Clockwf) -> None:
    result = clockwf("validate", *NOW, "examples/invalid/bad-overlap.yaml",
                     "examples/manual-cleanup.yaml", "examples/heartbeat.yaml")
    assert result.code == 1
    lines = result.out.splitlines()
    assert ("examples/invalid/bad-overlap.yaml:6:12: policy.overlap: must be one of allow, "
            "skip, queue_one, cancel_previous; got 'lates'") in lines
    assert "examples/invalid/bad-overlap.yaml: invalid (1 error)" in lines
    assert "examples/manual-cleanup.yaml: OK manual-cleanup; no trigger (started by hand)" in lines
    assert any(line.startswith("examples/heartbeat.yaml: OK heartbeat; next fires: "
                               "2027-01-01T00:05:00+00:00, ") for line in lines)


def test_warnings_are_marked_in_human_output(clockwf: Clockwf) -> None:
    result = clockwf("validate", *NOW, "examples/nightly-report.yaml")
    assert result.code == 0
    assert ("examples/nightly-report.yaml:9:9: trigger.cron: warning: on 2027-03-14 02:30 "
            "does not exist") in result.out
    assert "examples/nightly-report.yaml: OK nightly-report (1 warning); next fires:" in result.out


def test_strict_fails_on_warnings(clockwf: Clockwf) -> None:
    result = clockwf("validate", "--strict", "--format", "json", *NOW,
                     "examples/nightly-report.yaml", "examples/heartbeat.yaml")
    assert result.code == 1
    nightly, heartbeat = result.json()["files"]
    assert nightly["ok"] is False and nightly["warnings"] == []
    assert "does not exist in America/New_York" in nightly["errors"][0]["message"]
    assert heartbeat["ok"] is True


def test_stdin(clockwf: Clockwf) -> None:
    source = (ROOT / "examples" / "heartbeat.yaml").read_text()
    result = clockwf("validate", "--format", "json", *NOW, "-", input=source)
    assert result.code == 0
    entry = result.json()["files"][0]
    assert entry["path"] == "<stdin>" and entry["workflow_id"] == "heartbeat"
    bad = clockwf("validate", *NOW, "-", input="id: x\nsteps:\n  - run: echo\n    crn: 1\n")
    assert bad.code == 1
    assert "<stdin>:4:5: steps[0].crn: unknown key 'crn'" in bad.out


def test_missing_file_and_directory_are_entries_not_crashes(clockwf: Clockwf,
                                                           tmp_path: Path) -> None:
    result = clockwf("validate", "--format", "json", *NOW, str(tmp_path / "nope.yaml"),
                     str(tmp_path), "examples/heartbeat.yaml")
    assert result.code == 1
    missing, directory, fine = result.json()["files"]
    assert missing["errors"] == [{"line": None, "column": None, "field": None,
                                  "message": "no such file"}]
    assert directory["errors"][0]["message"].startswith("is a directory")
    assert fine["ok"] is True


def test_hostile_input_gives_errors_not_tracebacks(clockwf: Clockwf, tmp_path: Path) -> None:
    cases = {
        "binary.yaml": bytes(range(256)),
        "bomb.yaml": ("a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
            f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True))).encode(),
        "deep.yaml": b"a: " + b"[" * 100_000 + b"]" * 100_000,
        "tag.yaml": b"id: !!python/object/apply:os.system ['echo pwned']\nsteps: []\n",
        "big.yaml": b"id: a\n" + b"#" * (2 * 1024 * 1024),
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    result = clockwf("validate", "--format", "json", *NOW, *sorted(str(tmp_path / n)
                                                                 for n in cases))
    assert result.code == 1
    files = result.json()["files"]
    assert [f["ok"] for f in files] == [False] * len(cases)
    messages = {Path(f["path"]).name: f["errors"][0]["message"] for f in files}
    assert "larger than 1 MiB" in messages["big.yaml"]
    assert "not UTF-8" in messages["binary.yaml"] or "not allowed" in messages["binary.yaml"]
    assert "more than 100000 values" in messages["bomb.yaml"]
    assert "nested" in messages["deep.yaml"]
    assert "is refused" in messages["tag.yaml"]
    assert "pwned" not in result.out.replace("'echo pwned'", "")


def test_bad_now_is_a_usage_error(clockwf: Clockwf) -> None:
    result = clockwf("validate", "--now", "yesterday", "examples/heartbeat.yaml")
    assert result.code == 2
    assert "--now 'yesterday' is not an ISO 8601 date-time" in result.err


def test_no_file_is_a_usage_error(clockwf: Clockwf) -> None:
    assert clockwf("validate").code == 2


def test_pre_commit_hook_targets_workflow_files() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "clockwf-validate")
    assert hook["entry"] == "clockwf validate"
    assert hook["language"] == "python"
    files, exclude = re.compile(hook["files"]), re.compile(hook["exclude"])

    def selected(path: str) -> bool:
        return bool(files.search(path)) and not exclude.search(path)

    assert selected("workflows/nightly.yaml")
    assert selected("deploy/clockwf/nightly.yml")
    assert selected("jobs/nightly.clockwf.yaml")
    assert not selected(".github/workflows/ci.yml")
    assert not selected("docker-compose.yaml")
