"""``notify`` and ``expect`` in definitions: what is accepted, and located messages for what is
not; the notification body's schema; Apprise missing is said clearly."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from clockwf.models import Definition, definition_schema
from clockwf.notify.body import NotificationV1, notification_schema
from clockwf.notify.outbox import target_label
from clockwf.validate import validate_source

NOW = datetime(2027, 1, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def errors(text: str) -> list[str]:
    report = validate_source(textwrap.dedent(text), "wf.yaml", NOW)
    return [str(d) for d in report.errors]


def test_a_full_notify_and_expect_block_is_valid() -> None:
    report = validate_source(textwrap.dedent("""\
        id: nightly
        notify:
          on: [failed, missed, overdue, recovered, succeeded]
          repeat: every
          to:
            - webhook: {url: "https://hooks.example.com/x", headers: {Authorization: "Bearer ${env:HOOK}"}}
            - command: "./page-oncall.sh"
            - command: {run: "./page.sh", timeout: 5s, env: {TOKEN: "${env:PAGER}"}}
            - apprise: "json://127.0.0.1:8080/x"
        expect: {success_within: 26h, finish_within: 30m, pause_after_failures: 5}
        steps:
          - run: "true"
        """), "wf.yaml", NOW)
    assert report.ok, [str(d) for d in report.errors]
    definition = report.definition
    assert definition is not None and definition.notify is not None
    assert [t.kind for t in definition.notify.to] == ["webhook", "command", "command", "apprise"]
    assert definition.expect is not None and definition.expect.pause_after_failures == 5
    jsonschema.validate(json.loads(json.dumps(definition.model_dump(
        mode="json", exclude_none=True, by_alias=True))), definition_schema())


def test_defaults_when_notify_gives_only_targets() -> None:
    d = Definition.model_validate({"id": "x", "steps": [{"run": "true"}],
                                   "notify": {"to": [{"command": "true"}]}})
    assert d.notify is not None and d.notify.repeat == "change"
    assert "succeeded" not in d.notify.on and "missed" in d.notify.on


@pytest.mark.parametrize(("text", "expected"), [
    ("notify:\n  on: [failed, exploded]\n", "wf.yaml:3:16: notify.on[1]: must be one of failed"),
    ("notify:\n  to:\n    - webhook: {url: 'https://h/x'}\n      command: x\n",
     "wf.yaml:4:7: notify.to[0]: a notify target has exactly one of webhook, command or apprise"),
    ("notify:\n  to:\n    - apprise: 'not a url'\n",
     "wf.yaml:4:16: notify.to[0].apprise: 'not a url' is not an Apprise URL"),
    ("notify:\n  to:\n    - webhook: {url: 'ftp://h/x'}\n", "notify.to[0].webhook.url"),
    ("notify:\n  repeat: sometimes\n", "wf.yaml:3:11: notify.repeat: must be one of change, every"),
    ("expect:\n  success_within: 0\n", "expect.success_within: success_within must be longer than 0"),
    ("expect:\n  pause_after_failures: 0\n", "expect.pause_after_failures: must be at least 1"),
    ("expect:\n  finish_within: soon\n", "expect.finish_within"),
    ("notify:\n  to:\n    - command: {run: x, env: {TOKEN: '${env:'}}\n", "unterminated"),
])
def test_bad_blocks_are_located(text: str, expected: str) -> None:
    found = errors("id: wf\n" + text + "steps:\n  - run: 'true'\n")
    assert any(expected in e for e in found), found


def test_missing_apprise_is_said_clearly(tmp_path: Path) -> None:
    """In a process where Apprise cannot be imported, validate names the extra to install."""
    path = tmp_path / "wf.yaml"
    path.write_text("id: wf\nnotify:\n  to:\n    - apprise: 'json://127.0.0.1/x'\n"
                    "steps:\n  - run: 'true'\n")
    hide = textwrap.dedent("""\
        import sys
        class Hide:
            def find_spec(self, name, path=None, target=None):
                if name == "apprise" or name.startswith("apprise."):
                    raise ModuleNotFoundError(name)
        sys.meta_path.insert(0, Hide())
        from clockwf.cli import main
        sys.exit(main(sys.argv[1:]))
        """)
    result = subprocess.run([sys.executable, "-c", hide, "validate", str(path)],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 1
    assert (f"{path}:4:16: notify.to[0].apprise: apprise targets need the Apprise library, "
            "which is "
            "not installed: pip install 'clockwf[notify]'") in result.stdout + result.stderr


def test_notification_schema_is_printed_and_matches_the_model() -> None:
    result = subprocess.run([sys.executable, "-m", "clockwf", "schema", "--notification"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema == notification_schema() and schema["title"] == "clockwf.Notification.v1"
    assert {"schema", "id", "event", "namespace", "workflow_id", "occurred_at",
            "summary"} <= set(schema["required"])
    body = NotificationV1.model_validate({
        "schema": "clockwf.Notification.v1", "id": "x", "event": "missed", "namespace": "n",
        "workflow_id": "w", "occurred_at": "2027-01-01T00:00:00Z", "summary": "s",
        "count": 3, "from": "2027-01-01T00:00:00Z", "to": "2027-01-01T00:02:00Z"})
    jsonschema.validate(body.model_dump(by_alias=True, exclude_none=True), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"schema": "clockwf.Notification.v1", "id": "x",
                             "event": "paused", "namespace": "n", "workflow_id": None,
                             "occurred_at": "t", "summary": "s"}, schema)


def test_target_labels_carry_no_secret() -> None:
    d = Definition.model_validate({"id": "x", "steps": [{"run": "true"}], "notify": {"to": [
        {"webhook": {"url": "https://user:pw@hooks.example.com/x?token=abc"}},
        {"apprise": "slack://T000/B000/XXXXSECRET/#ops"}]}})
    assert d.notify is not None
    labels = [target_label(t) for t in d.notify.to]
    assert labels == ["webhook https://hooks.example.com/x", "apprise slack://"]
