"""The example Prometheus alert rules pass their promtool unit tests (and fail when broken)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "examples" / "prometheus"


def _promtool() -> str:
    found = shutil.which("promtool") or "/usr/bin/promtool"
    if not Path(found).exists():
        pytest.fail("promtool is required (Debian package prometheus; .ci/run installs it)")
    return found


def test_alert_rules_pass_promtool() -> None:
    result = subprocess.run([_promtool(), "check", "rules", "clockwf-alerts.yaml"], cwd=RULES,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    result = subprocess.run([_promtool(), "test", "rules", "clockwf-alerts.test.yaml"],
                            cwd=RULES, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_catches_a_broken_threshold(tmp_path: Path) -> None:
    """The unit tests really constrain the rules: a changed threshold fails them."""
    rules = (RULES / "clockwf-alerts.yaml").read_text()
    (tmp_path / "clockwf-alerts.yaml").write_text(
        rules.replace("clockwf_workflow_consecutive_failures >= 3",
                      "clockwf_workflow_consecutive_failures >= 4"))
    (tmp_path / "clockwf-alerts.test.yaml").write_text(
        (RULES / "clockwf-alerts.test.yaml").read_text())
    result = subprocess.run([_promtool(), "test", "rules", "clockwf-alerts.test.yaml"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
