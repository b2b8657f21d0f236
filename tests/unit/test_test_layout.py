"""The test tree itself: each tier's helpers are imported by their package name, so files of
several tiers named on one pytest command line collect together.

Each tier has a conftest.py. Imported as a bare ``conftest`` (or a bare ``executor_support``),
the first one Python caches wins and the other tier's files fail to collect. ``tests`` and each
tier are packages: a test file imports its own tier's helpers relatively (``from .faultkit``)
and another tier's by their full name (``tests.integration.pg_support``)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
TIERS = ("unit", "integration", "acceptance", "faults")


def _bare_imports(path: Path) -> list[str]:
    """``from X import`` / ``import X`` lines in ``path`` whose X is a module of the test tree
    named without its package (``conftest``, ``faultkit``, ``executor_support``...)."""
    local = {p.stem for p in TESTS.rglob("*.py")}
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in local:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: from {node.module}")
        if isinstance(node, ast.Import):
            found += [f"{path.relative_to(ROOT)}:{node.lineno}: import {a.name}"
                      for a in node.names if a.name in local]
    return found


def test_every_tier_is_a_package() -> None:
    missing = [d for d in ("", *TIERS) if not (TESTS / d / "__init__.py").is_file()]
    assert missing == []


def test_no_test_module_imports_a_helper_by_its_bare_name() -> None:
    bare = [line for path in sorted(TESTS.rglob("*.py")) for line in _bare_imports(path)]
    assert bare == [], "import these as .<module> or tests.<tier>.<module>:\n" + "\n".join(bare)


def test_files_of_three_tiers_collect_on_one_command_line() -> None:
    """The command lines that used to fail: an acceptance file with a fault file (whose
    conftest has no ``Clockwf``), an integration file after an acceptance one (no ``Race``)."""
    files = ["tests/acceptance/test_cli_db.py", "tests/faults/test_outage.py",
             "tests/integration/test_fleet.py", "tests/acceptance/test_cli_next.py"]
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                           "-p", "no:randomly", "-p", "no:cacheprovider", *files],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    collected = {line.split("::", 1)[0] for line in proc.stdout.splitlines() if "::" in line}
    assert collected == set(files), proc.stdout[-4000:]
