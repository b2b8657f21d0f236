"""``clockwf schema``: the JSON Schemas of a definition and of the payload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # a dev dependency: its tests must run, never skip

from clockwf.models import Definition, WorkflowClockTriggerV1
from clockwf.yamlload import load

from .cli_support import ROOT, Clockwf

SCHEMA_FILE = ROOT / "schema" / "clockwf.schema.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].removeprefix("#/$defs/")
        node = schema["$defs"][name]
    return node


def walk_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [
            r for v in node.values() for r in walk_refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in walk_refs(v)]
    return []


def test_schema_file_is_up_to_date(clockwf: Clockwf) -> None:
    result = clockwf("schema")
    assert result.code == 0
    assert result.out == SCHEMA_FILE.read_text(), (
        "schema/clockwf.schema.json is stale: run clockwf schema --output "
        "schema/clockwf.schema.json")


def test_output_writes_the_same_text(clockwf: Clockwf, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    result = clockwf("schema", "--output", str(target))
    assert result.code == 0 and result.out == ""
    assert target.read_text() == SCHEMA_FILE.read_text()
    payload = tmp_path / "payload.json"
    assert clockwf("schema", "--payload", "-o", str(payload)).code == 0
    assert json.loads(payload.read_text())["title"] == "WorkflowClockTrigger.v1"


def test_definition_schema_structure(clockwf: Clockwf) -> None:
    schema = clockwf("schema").json()
    assert schema["$schema"] == DRAFT
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"id", "steps"}
    assert set(schema["properties"]) == set(Definition.model_fields)
    for ref in walk_refs(schema):
        assert ref.removeprefix("#/$defs/") in schema["$defs"], ref
    for name in ("RecurringTrigger", "ScheduleTrigger", "EventTrigger", "Step", "HttpSpec",
                 "Policy", "DstPolicy"):
        definition = schema["$defs"][name]
        assert definition["additionalProperties"] is False, name
    recurring = schema["$defs"]["RecurringTrigger"]
    assert set(recurring["required"]) == {"type"}
    assert recurring["oneOf"] == [{"required": ["cron"]}, {"required": ["rrule"]},
                                  {"required": ["every"]}]
    assert recurring["properties"]["type"]["const"] == "recurring"
    step = schema["$defs"]["Step"]
    assert step["oneOf"] == [{"required": ["run"]}, {"required": ["http"]}]
    policy = schema["$defs"]["Policy"]
    assert policy["properties"]["overlap"]["enum"] == ["allow", "skip", "queue_one",
                                                       "cancel_previous"]


def test_payload_schema_structure(clockwf: Clockwf) -> None:
    result = clockwf("schema", "--payload")
    assert result.code == 0
    schema = result.json()
    assert schema["$schema"] == DRAFT
    assert schema["title"] == "WorkflowClockTrigger.v1"
    assert schema["additionalProperties"] is False
    fields = {"schema", "trigger_type", "workflow_id", "workflow_version", "fire_key",
              "scheduled_for", "scheduled_for_utc", "fired_at", "timezone", "cron", "run_at",
              "catchup", "backfill", "rrule", "every", "moved_from"}
    assert set(schema["properties"]) == fields
    assert not {"rrule", "every", "moved_from"} & set(schema["required"])
    assert {"trigger_type", "workflow_id", "workflow_version", "fire_key", "scheduled_for",
            "scheduled_for_utc", "fired_at", "timezone"} <= set(schema["required"])
    assert schema["properties"]["schema"]["const"] == "WorkflowClockTrigger.v1"
    assert len(schema["properties"]) == len(WorkflowClockTriggerV1.model_fields)


def test_examples_satisfy_the_schema() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        data = load(path.read_bytes()).data
        assert not list(validator.iter_errors(data)), path
    bad = load((ROOT / "examples" / "invalid" / "unknown-key.yaml").read_bytes()).data
    assert list(validator.iter_errors(bad))
    payload = json.loads(json.dumps(WorkflowClockTriggerV1.model_json_schema(by_alias=True)))
    jsonschema.Draft202012Validator.check_schema(payload)


def test_help_text_for_every_command_here(clockwf: Clockwf) -> None:
    for command, text in (("validate", "Check workflow definitions"),
                          ("schema", "Print the JSON Schema"),
                          ("next", "Show the next fires")):
        result = clockwf(command, "--help")
        assert result.code == 0
        assert text in result.out
