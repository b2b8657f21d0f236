"""No silent broad `except`: every `except Exception`, `except BaseException` or bare `except`
in clockwf either re-raises or logs a line with a stable `action`, and no
`contextlib.suppress(Exception)` hides errors wholesale. A scan of the source, so that a new one
cannot slip in, plus the one top-level handler seen working."""

from __future__ import annotations

import ast
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from clockwf import logs
from clockwf.cli import main

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clockwf"
BROAD = {"Exception", "BaseException"}
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}

# Files being reworked in other branches (steps: A; executor, daemon, worker, the PostgreSQL
# pool: B) whose broad excepts their owners fix there. NOT a permanent exemption: the lead
# empties this set when those branches are merged (steps.py:218 and :535, daemon.py:299 and
# :310 were silent when it was written).
DEFERRED = {"clockwf/executor.py", "clockwf/daemon.py",
            "clockwf/cli/worker.py", "clockwf/store/postgres.py"}


def _names(node: ast.expr | None) -> set[str]:
    if node is None:
        return {"<bare>"}
    items = node.elts if isinstance(node, ast.Tuple) else [node]
    return {ast.unparse(item).rsplit(".", 1)[-1] for item in items}


def _walk_body(statements: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every node of these statements, not descending into nested functions or classes (their
    code does not run when the handler does)."""
    scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
    stack: list[ast.AST] = [s for s in statements if not isinstance(s, scopes)]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(c for c in ast.iter_child_nodes(node) if not isinstance(c, scopes))


def _logs_an_action(call: ast.Call) -> bool:
    if not (isinstance(call.func, ast.Attribute) and call.func.attr in LOG_METHODS):
        return False
    for keyword in call.keywords:
        if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
            keys = {k.value for k in keyword.value.keys if isinstance(k, ast.Constant)}
            if "action" in keys:
                return True
    return False


def _reports(handler: ast.ExceptHandler) -> bool:
    for node in _walk_body(handler.body):
        if isinstance(node, ast.Raise):
            return True
        if isinstance(node, ast.Call) and _logs_an_action(node):
            return True
    return False


def silent_excepts(source: str, name: str) -> list[str]:
    """``name:line`` of every broad handler that neither re-raises nor logs an action, and of
    every ``suppress(Exception)``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ExceptHandler) and _names(node.type) & (BROAD | {"<bare>"}) \
                and not _reports(node):
            found.append(f"{name}:{node.lineno}")
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("suppress") \
                and _names(ast.Tuple(elts=list(node.args))) & BROAD:
            found.append(f"{name}:{node.lineno}")
    return found


def _files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_broad_except_in_clockwf_is_silent() -> None:
    silent = []
    for path in _files():
        name = path.relative_to(ROOT).as_posix()
        if name not in DEFERRED:
            silent += silent_excepts(path.read_text(encoding="utf-8"), name)
    assert silent == [], ("broad excepts that neither re-raise nor log a line with an action "
                          f"(narrow them, or log with extra={{'action': ...}}): {silent}")


def test_the_scan_sees_the_whole_package() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _files()}
    assert {"clockwf/scheduler.py", "clockwf/cli/__init__.py", "clockwf/store/sqlite.py"} <= names


SILENT = {
    "pass": "try:\n    f()\nexcept Exception:\n    pass\n",
    "bare": "try:\n    f()\nexcept:\n    x = 1\n",
    "base in a tuple": "try:\n    f()\nexcept (ValueError, BaseException) as e:\n    return e\n",
    "qualified": "try:\n    f()\nexcept builtins.Exception:\n    return None\n",
    "logs without action": "try:\n    f()\nexcept Exception:\n    log.error('x')\n",
    "raise only in a nested def": ("try:\n    f()\nexcept Exception:\n"
                                   "    def g():\n        raise\n    return g\n"),
    "print is no log": "try:\n    f()\nexcept Exception as e:\n    print(e)\n",
    "suppress": "with contextlib.suppress(Exception):\n    f()\n",
    "suppress among others": "with suppress(OSError, BaseException):\n    f()\n",
}
REPORTED = {
    "re-raised": "try:\n    f()\nexcept BaseException:\n    cleanup()\n    raise\n",
    "wrapped": "try:\n    f()\nexcept Exception as e:\n    raise Failed(str(e)) from e\n",
    "logged": ("try:\n    f()\nexcept Exception:\n"
               "    log.exception('x', extra={'action': 'a.b'})\n"),
    "logged in a branch": ("try:\n    f()\nexcept Exception as e:\n    if e:\n"
                           "        log.warning('x', extra={'action': 'a', 'id': 1})\n"),
    "narrow": "try:\n    f()\nexcept (OSError, ValueError):\n    pass\n",
    "narrow suppress": "with contextlib.suppress(OSError):\n    f()\n",
}


@pytest.mark.parametrize("source", SILENT.values(), ids=SILENT.keys())
def test_the_scan_finds_a_silent_handler(source: str) -> None:
    assert silent_excepts(f"def h():\n{_indent(source)}", "x.py")


@pytest.mark.parametrize("source", REPORTED.values(), ids=REPORTED.keys())
def test_the_scan_accepts_a_reported_or_narrow_handler(source: str) -> None:
    assert silent_excepts(f"def h():\n{_indent(source)}", "x.py") == []


def _indent(source: str) -> str:
    return "".join(f"    {line}\n" for line in source.splitlines())


# -- the command line's last resort ------------------------------------------------------------

@pytest.fixture
def clean_logging() -> Iterator[None]:
    root = logging.getLogger("clockwf")
    before = (list(root.handlers), root.level, root.propagate)
    yield
    root.handlers[:] = before[0]
    root.setLevel(before[1])
    root.propagate = before[2]


def _boom(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError("a bug")


def test_a_bug_in_a_command_is_one_clear_line(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str],
                                              clean_logging: None, tmp_path: Path) -> None:
    monkeypatch.delenv("CLOCKWF_DEBUG", raising=False)
    monkeypatch.setattr("clockwf.monitor.health", _boom)
    assert main(["status", "--db", str(tmp_path / "c.db")]) == 1
    err = capsys.readouterr().err
    assert "internal error (a bug in clockwf, please report it): RuntimeError: a bug" in err
    assert "CLOCKWF_DEBUG=1" in err and "Traceback" not in err


def test_a_bug_under_configured_logging_is_a_log_record_with_an_action(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        clean_logging: None, tmp_path: Path) -> None:
    # What a daemon or worker (logging set up, --log-format json) prints when a bug escapes.
    monkeypatch.setenv("CLOCKWF_DEBUG", "1")
    monkeypatch.setattr("clockwf.monitor.health", _boom)
    logs.setup("json", "info")
    assert main(["status", "--db", str(tmp_path / "c.db")]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    record = json.loads(lines[0])
    assert record["action"] == "cli.internal_error" and record["level"] == "critical"
    assert "RuntimeError: a bug" in record["message"] and "Traceback" in record["error"]
