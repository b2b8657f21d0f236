"""What the acceptance tests share: the repository root and ``clockwf ARGS...`` run as a real
``python -m clockwf`` subprocess (the ``clockwf`` fixture of this tier's conftest).

Test files import it as ``tests.acceptance.cli_support``: a module of its own, so that naming
files of several tiers on one pytest command line never picks another tier's helpers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class Result:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        assert "Traceback" not in self.err, self.err

    def json(self) -> Any:
        return json.loads(self.out)


Clockwf = Callable[..., Result]


def run_clockwf(*args: str, input: str | bytes | None = None, cwd: Path = ROOT) -> Result:
    """Run ``clockwf ARGS...`` (``cwd`` the repository root unless given); ``input=`` feeds
    standard input. No CLOCKWF_ variable of ours leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOCKWF_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "200"
    data = input.encode() if isinstance(input, str) else input
    proc = subprocess.run([sys.executable, "-m", "clockwf", *args], cwd=cwd, input=data,
                          capture_output=True, timeout=120, env=env, check=False)
    return Result(subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace")))
