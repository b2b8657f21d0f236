"""Acceptance tests run the real command line: ``python -m clockwf`` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

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


@pytest.fixture
def clockwf() -> Clockwf:
    """Run ``clockwf ARGS...`` from the repository root; ``input=`` feeds standard input."""

    def run(*args: str, input: str | bytes | None = None, cwd: Path = ROOT) -> Result:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOCKWF_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env["COLUMNS"] = "200"
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run([sys.executable, "-m", "clockwf", *args], cwd=cwd, input=data,
                              capture_output=True, timeout=120, env=env, check=False)
        return Result(subprocess.CompletedProcess(
            proc.args, proc.returncode, proc.stdout.decode("utf-8", "replace"),
            proc.stderr.decode("utf-8", "replace")))

    return run
