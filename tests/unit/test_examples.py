"""Every example validates; every invalid example fails the way its comments say."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clockwf.validate import validate_path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
INVALID = sorted((ROOT / "examples" / "invalid").glob("*.yaml"))
NOW = datetime(2027, 1, 1, tzinfo=UTC)
SCHEMA_COMMENT = "# yaml-language-server: $schema=../schema/clockwf.schema.json"


def expectations(path: Path) -> dict[str, str]:
    found = dict(re.findall(r"^# (expect(?:-field|-line)?): (.+)$", path.read_text(), re.M))
    assert set(found) == {"expect", "expect-field", "expect-line"}, path.name
    return found


def test_there_are_examples_of_every_trigger_kind() -> None:
    kinds = {validate_path(p, NOW).raise_for_errors().trigger_type for p in EXAMPLES}
    assert kinds == {"manual", "event", "schedule", "recurring"}
    steps = {step.kind for p in EXAMPLES for step in validate_path(p, NOW).raise_for_errors().steps}
    assert steps == {"run", "http"}
    assert len(INVALID) >= 15


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_valid(path: Path) -> None:
    report = validate_path(path, NOW)
    assert report.ok, [str(e) for e in report.errors]
    assert path.read_text().splitlines()[0] == SCHEMA_COMMENT
    assert report.workflow_id == path.stem
    if report.definition is not None and report.definition.trigger_type in ("schedule",
                                                                            "recurring"):
        assert report.next_fires


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_example_fails_as_expected(path: Path) -> None:
    expected = expectations(path)
    report = validate_path(path, NOW)
    assert not report.ok
    field = None if expected["expect-field"] == "-" else expected["expect-field"]
    matching = [e for e in report.errors
                if expected["expect"] in e.message and e.field == field]
    assert matching, [str(e) for e in report.errors]
    assert matching[0].line == int(expected["expect-line"])
    assert matching[0].column is not None
    assert matching[0].path == str(path)
