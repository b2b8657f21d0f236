"""The bad-input corpus (``tests/bad_inputs/``): every file must be refused, with the message,
field and line it carries, never with a traceback, and refusing it must change nothing.

Each file starts with comments (or, when it cannot carry them, a ``<file>.expect`` beside it):

    # expect: <a substring of the message>
    # expect-field: <the diagnostic's field, or - for none>
    # expect-line: <its 1-based line, or - for none>
    # expect-when: strict | publish      (optional: refused only under --strict, or only by
                                          publish; validate alone warns)

A 50 MB file and one just over the 1 MiB limit are generated here rather than committed.
"""

from __future__ import annotations

import codecs
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from clockwf.cli import main
from clockwf.yamlload import MAX_BYTES

from .faultkit import ROOT, RawDb, assert_unchanged, child_env

CORPUS = ROOT / "tests" / "bad_inputs"
FILES = sorted(p for p in CORPUS.iterdir() if p.suffix == ".yaml")
NOW = "2027-01-01T00:00:00Z"


@dataclass(frozen=True)
class Expect:
    message: str
    field: str | None
    line: int | None
    when: str | None          # None | strict | publish


def _header_text(raw: bytes) -> str:
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if raw.startswith(bom):
            return raw.decode(codec)
    return raw.decode("utf-8", "replace")


def expectation(path: Path) -> Expect:
    sidecar = path.with_name(path.name + ".expect")
    text = _header_text((sidecar if sidecar.exists() else path).read_bytes())
    found = dict(re.findall(r"^# (expect(?:-field|-line|-when)?): (.+)$", text, re.M))
    assert {"expect", "expect-field", "expect-line"} <= set(found), path.name
    field = found["expect-field"].strip()
    line = found["expect-line"].strip()
    return Expect(found["expect"].strip(), None if field == "-" else field,
                  None if line == "-" else int(line), found.get("expect-when"))


def validate(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``clockwf ARGS`` in this process (no traceback may escape ``main``)."""
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def matching(diagnostics: list[dict[str, object]], expect: Expect) -> list[dict[str, object]]:
    return [d for d in diagnostics
            if expect.message in str(d["message"]) and d["field"] == expect.field]


def check_report(path: Path, report: dict[str, object], expect: Expect, *,
                 strict: bool) -> None:
    refused = expect.when is None or (expect.when == "strict" and strict) or (
        expect.when == "publish" and strict)
    errors = report["errors"]
    warnings = report["warnings"]
    assert isinstance(errors, list) and isinstance(warnings, list)
    found = matching(errors if refused else warnings, expect)
    assert found, (path.name, expect, errors, warnings)
    assert report["ok"] is not refused, (path.name, report)
    diagnostic = found[0]
    assert diagnostic["line"] == expect.line, (path.name, diagnostic)
    if expect.line is not None:
        assert diagnostic["column"] is not None, (path.name, diagnostic)


def test_the_corpus_is_large_and_every_file_says_what_it_expects() -> None:
    assert len(FILES) >= 60
    kinds = [expectation(p) for p in FILES]
    assert sum(1 for k in kinds if k.when is None) >= 60
    assert {k.when for k in kinds} == {None, "strict", "publish"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_validate_refuses_with_message_field_and_line(path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    expect = expectation(path)
    strict = ["--strict"] if expect.when == "strict" else []
    code, out, err = validate("validate", "--format", "json", "--now", NOW, *strict, str(path),
                              capsys=capsys)
    assert code == (0 if expect.when == "publish" else 1), (out, err)
    (report,) = json.loads(out)["files"]
    check_report(path, report, expect, strict=bool(strict))
    # The human form: the finding as path:line:column: field: message, and a summary.
    code, out, err = validate("validate", "--now", NOW, *strict, str(path), capsys=capsys)
    assert code == (0 if expect.when == "publish" else 1)
    where = f"{path}:{expect.line}:" if expect.line is not None else f"{path}:"
    lines = [line for line in out.splitlines() if line.startswith(where)
             and expect.message in line]
    assert lines, out
    assert (f"{path}: invalid" in out) == (expect.when != "publish"), out


@pytest.mark.slow
def test_validate_of_the_whole_corpus_in_one_invocation(tmp_path: Path) -> None:
    """Real processes over every file at once: no traceback, exit 1, every file reported."""
    names = [str(p) for p in FILES]
    human = subprocess.run([sys.executable, "-m", "clockwf", "validate", "--now", NOW, *names],
                           capture_output=True, text=True, env=child_env(), timeout=300,
                           check=False)
    assert human.returncode == 1
    assert "Traceback" not in human.stderr + human.stdout
    assert human.stderr == ""
    for p in FILES:
        summary = f"{p}: OK" if expectation(p).when in ("strict", "publish") else \
            f"{p}: invalid"
        assert summary in human.stdout, p.name

    strict = subprocess.run([sys.executable, "-m", "clockwf", "validate", "--strict",
                             "--format", "json", "--now", NOW, *names],
                            capture_output=True, text=True, env=child_env(), timeout=300,
                            check=False)
    assert strict.returncode == 1 and "Traceback" not in strict.stderr, strict.stderr
    reports = json.loads(strict.stdout)["files"]
    assert [r["path"] for r in reports] == names
    for p, report in zip(FILES, reports, strict=True):
        check_report(p, report, expectation(p), strict=True)


def _huge(path: Path, size: int) -> Path:
    chunk = "id: huge\nsteps:\n" + "".join(f"  - run: echo {i}\n" for i in range(1000))
    with open(path, "w") as out:
        written = 0
        while written < size:
            part = chunk[: size - written]
            out.write(part)
            written += len(part)
    assert path.stat().st_size == size
    return path


@pytest.fixture(scope="module")
def huge_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    base = tmp_path_factory.mktemp("huge")
    return [_huge(base / "fifty-megabytes.yaml", 50 * 1024 * 1024),
            _huge(base / "one-byte-too-many.yaml", MAX_BYTES + 1)]


# `clockwf validate ARGS`, then the bytes this process read in all (/proc/self/io rchar), on
# standard error: how much of a file was read, measured rather than timed.
_COUNT_READS = """
import runpy, sys
sys.argv = ["clockwf", *sys.argv[1:]]
try:
    runpy.run_module("clockwf", run_name="__main__")
finally:
    io = dict(line.split(": ") for line in open("/proc/self/io").read().splitlines())
    print("rchar", io["rchar"], file=sys.stderr)
"""


def test_huge_files_are_refused_without_reading_them(huge_files: list[Path]) -> None:
    result = subprocess.run([sys.executable, "-c", _COUNT_READS, "validate", "--format", "json",
                             *map(str, huge_files)], capture_output=True, text=True,
                            env=child_env(), timeout=300, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    read = int(re.findall(r"^rchar (\d+)$", result.stderr, re.M)[-1])
    # Starting Python and clockwf reads some MB of modules; the 50 MB file must not be read:
    # at most 1 MiB + 1 byte of each file.
    assert read < 20 * 1024 * 1024, f"read {read} bytes"
    for report in json.loads(result.stdout)["files"]:
        assert report["ok"] is False
        assert report["errors"][0]["message"].startswith("the file is larger than 1 MiB")
    assert _huge(huge_files[0].with_name("exactly-1mib.yaml"), MAX_BYTES).stat().st_size \
        == MAX_BYTES   # the limit itself is allowed through to the YAML checks


VALID_A = "id: batch-valid-a\ntrigger: {type: recurring, cron: '0 * * * *'}\nsteps:\n  - run: 'true'\n"
VALID_B = "id: batch-valid-b\nsteps:\n  - run: 'true'\n"
SEED = {
    "seed-hourly.yaml": "id: seed-hourly\ntrigger: {type: recurring, cron: '0 * * * *'}\n"
                        "steps:\n  - run: 'true'\n",
    "seed-once.yaml": "id: seed-once\ntrigger: {type: schedule, run_at: '2027-03-01T09:00:00Z'}"
                      "\nsteps:\n  - run: 'true'\n",
    "seed-event.yaml": "id: seed-event\ntrigger: {type: event, event: seeded}\n"
                       "steps:\n  - run: 'true'\n",
    "seed-paused.yaml": "id: seed-paused\ntrigger: {type: recurring, cron: '*/5 * * * *'}\n"
                        "steps:\n  - run: 'true'\n",
}


@pytest.mark.slow
def test_publishing_bad_input_changes_nothing(db_url: str, namespace: str, tmp_path: Path,
                                              huge_files: list[Path],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Each file alone, and between two valid files, is refused; every table of the store is
    exactly as before (SQLite and PostgreSQL)."""
    db = ["--db", db_url, "--namespace", namespace]
    seeds = []
    for name, text in SEED.items():
        (tmp_path / name).write_text(text)
        seeds.append(str(tmp_path / name))
    code, out, err = validate("publish", *db, "--now", "2026-12-30T00:00:00Z", *seeds,
                              capsys=capsys)
    assert code == 0, err
    for args in (["tick", "--now", "2027-01-01T00:00:30Z"], ["emit", "seeded", "--id", "1"],
                 ["run", "seed-hourly", "--key", "k"], ["pause", "seed-paused"]):
        assert validate(*args, *db, capsys=capsys)[0] == 0, args
    valid_a, valid_b = tmp_path / "valid-a.yaml", tmp_path / "valid-b.yaml"
    valid_a.write_text(VALID_A)
    valid_b.write_text(VALID_B)

    raw = RawDb(db_url)
    before = raw.dump()
    assert all(before[t] for t in ("workflows", "workflow_versions", "schedules", "runs",
                                   "skipped_occurrences", "change_counters"))
    refused = 0
    try:
        for path in [*FILES, *huge_files]:
            expect = expectation(path) if path.parent == CORPUS else None
            if expect is not None and expect.when == "strict":
                continue   # publish has no --strict: a legacy zone is only a warning there
            for batch in ([path], [valid_a, path, valid_b]):
                code, out, err = validate("publish", *db, "--now", NOW, *map(str, batch),
                                          capsys=capsys)
                assert code == 1, (path.name, out, err)
                assert err.startswith("error: nothing was published:"), (path.name, err)
                if expect is not None:
                    assert expect.message in " ".join(err.split()), (path.name, err)
                assert_unchanged(before, raw.dump(), f"publish {[p.name for p in batch]}")
                refused += 1
    finally:
        raw.close()
    assert refused >= 2 * 60
