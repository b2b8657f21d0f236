"""Commands other than `serve` never import the web stack: `clockwf validate` stays fast."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB_STACK = ("fastapi", "starlette", "uvicorn", "jinja2", "multipart", "python_multipart",
             "clockwf.web")

PROBE = """
import json, sys
from clockwf.cli import main
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""


def imported(tmp_path: Path, *args: str) -> tuple[int, list[str]]:
    report = tmp_path / "modules.json"
    subprocess.run([sys.executable, "-c", PROBE, str(report), *args], cwd=ROOT, check=False,
                   capture_output=True, timeout=120)
    doc = json.loads(report.read_text())
    return doc["code"], doc["modules"]


@pytest.mark.parametrize("args", [
    ["validate", "examples/heartbeat.yaml"],
    ["next", "--cron", "30 2 * * *", "-n", "2"],
    ["--help"],
])
def test_commands_other_than_serve_do_not_import_the_web_stack(tmp_path: Path,
                                                               args: list[str]) -> None:
    code, modules = imported(tmp_path, *args)
    assert code == 0
    loaded = [m for m in modules if m.split(".")[0] in WEB_STACK or m.startswith("clockwf.web")]
    assert loaded == []


def test_the_probe_sees_the_web_stack_when_it_is_imported(tmp_path: Path) -> None:
    # The probe itself works: the app module pulls the whole stack in.
    report = tmp_path / "modules.json"
    code = ("import json, sys; import clockwf.web.app; "
            "json.dump(sorted(sys.modules), open(sys.argv[1], 'w'))")
    subprocess.run([sys.executable, "-c", code, str(report)], cwd=ROOT, check=True, timeout=120)
    modules = json.loads(report.read_text())
    assert {"fastapi", "starlette", "jinja2"} <= set(modules)
