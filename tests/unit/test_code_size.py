"""The size rule of the house (docs/design.md §1): no class over 250 lines and no function over
60 in ``clockwf/``, so that each one reads top to bottom. The few exceptions are named here with
their reason; an exception that is no longer over the limit fails too, so the list cannot go
stale."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "clockwf"
CLASS_LINES = 250
FUNCTION_LINES = 60

# path:qualified name -> why it stays one piece.
EXCEPTIONS = {
    "cron.py:_parse_field": "one field's grammar (lists, ranges, steps, names) as one "
                            "state walk; the corpus tests hold it against croniter and cronie",
    "cron.py:parse_cron": "macros, field count, the day-of-month/day-of-week rule and their "
                          "messages in the order a reader of crontab(5) expects them",
    "cron.py:CronSchedule._search": "the DST-exact search loop (docs/design.md §2.2): split, "
                                    "it costs a call per candidate day on the hot path",
}


def _sizes() -> dict[str, tuple[str, int]]:
    """path:qualified name -> (kind, lines) of every class and function in the package."""
    found: dict[str, tuple[str, int]] = {}

    def visit(node: ast.AST, path: str, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                name = prefix + child.name
                kind = "class" if isinstance(child, ast.ClassDef) else "function"
                assert child.end_lineno is not None
                found[f"{path}:{name}"] = (kind, child.end_lineno - child.lineno + 1)
                visit(child, path, name + ".")
            else:
                visit(child, path, prefix)

    for file in sorted(PACKAGE.rglob("*.py")):
        visit(ast.parse(file.read_text(), str(file)), str(file.relative_to(PACKAGE)), "")
    return found


def _over(kind: str, lines: int) -> bool:
    return lines > (CLASS_LINES if kind == "class" else FUNCTION_LINES)


def test_no_class_or_function_is_over_the_limit() -> None:
    over = [f"{name}: {kind} of {lines} lines" for name, (kind, lines) in _sizes().items()
            if _over(kind, lines) and name not in EXCEPTIONS]
    assert over == [], (f"split these (classes <= {CLASS_LINES} lines, functions <= "
                        f"{FUNCTION_LINES}):\n" + "\n".join(over))


def test_every_exception_is_still_needed() -> None:
    sizes = _sizes()
    stale = [name for name in EXCEPTIONS if name not in sizes or not _over(*sizes[name])]
    assert stale == [], f"no longer over the limit, drop from EXCEPTIONS: {stale}"


def test_the_walk_sees_methods_and_nested_functions() -> None:
    """The measure itself: a method is named by its class, and the package's largest known
    pieces are found (a walk that saw nothing would pass the rule vacuously)."""
    sizes = _sizes()
    assert sizes["cron.py:CronSchedule._search"][0] == "function"
    assert sizes["executor/pool.py:Executor"][0] == "class"
    assert len(sizes) > 500
