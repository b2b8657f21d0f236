"""Small things a new user meets first (real subprocesses): `clockwf --version`, and a cron
expression with a no-break space pasted into it."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys

import clockwf as package

from .cli_support import ROOT, Clockwf, Result


def run_with_env(*args: str, env: dict[str, str]) -> Result:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CLOCKWF_")}
    full["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), full.get("PYTHONPATH")]))
    full.update(env)
    return Result(subprocess.run([sys.executable, "-m", "clockwf", *args], cwd=ROOT, text=True,
                                 capture_output=True, timeout=60, env=full, check=False))


def test_version_prints_the_installed_distribution_version(clockwf: Clockwf) -> None:
    expected = importlib.metadata.version("clockwf")
    result = clockwf("--version")
    assert result.code == 0 and result.out == f"clockwf {expected}\n"
    assert package.__version__ == expected          # the two cannot drift apart


def test_an_exported_clockwf_version_is_not_the_version_flag() -> None:
    # A deploy script's own CLOCKWF_VERSION=1.2.3 must not turn every command into --version
    # (nor into a usage error, "not a valid boolean").
    result = run_with_env("next", "--cron", "@daily", "-n", "1", "--now", "2027-01-01T00:00Z",
                          env={"CLOCKWF_VERSION": "1.2.3"})
    assert result.code == 0, result.err
    assert not result.out.startswith("clockwf ")


def test_next_refuses_a_no_break_space_naming_it_and_its_column(clockwf: Clockwf) -> None:
    result = clockwf("next", "--cron", "30\u00a02 * * *")
    assert result.code == 1 and result.out == ""
    assert "U+00A0 NO-BREAK SPACE at column 3" in result.err
    assert "ASCII spaces and tabs" in result.err
