"""The docs run: every example in README.md and docs/format.md is executed, so they cannot drift.

What is run is found by parsing the Markdown's fenced code blocks, so a new example is covered
the moment it is written. The conventions:

- ```` ```python ```` blocks are executed; comment lines at the end of a block are the expected
  result: the block's standard output followed by the ``repr`` of its last line when that is an
  expression (as at the interactive prompt).
- A ```` ```console ```` block is a session that needs state prepared first: a test of its own
  (``tests/acceptance/test_readme_*.py``) reproduces it, and a check here makes sure one does.
- Any other block whose first line starts with ``$ clockwf`` is a session: each ``$`` line is run (from
  the repository root, on a throwaway store, ``COLUMNS=100``) and the lines after it, up to the
  next ``$`` line, are its exact output (standard output and error, as a terminal shows them).
  A session right after a ```` ```yaml ```` block runs in a directory where that YAML is saved
  under the file name its first command names: that is how a doc shows a refused definition.
- Every other ```` ```yaml ```` block that is a workflow definition, or a fragment of one (its
  top-level keys are definition keys; a missing ``id`` or ``steps`` is filled in), must pass
  ``clockwf validate``. YAML that is not a definition must at least parse.
- The quick start is exactly two commands: the first is run literally in a copy of the
  repository (it creates a venv and installs from the package index: ``slow``), the second is
  the test command CI runs (``.ci/run`` must contain it).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "docs/format.md")
DEFINITION_KEYS = {"id", "name", "description", "trigger", "policy", "payload_schema_mode",
                   "steps", "notify", "expect"}
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass
class Block:
    doc: str
    line: int          # line of the opening fence, 1-based
    lang: str
    text: str
    after_yaml: Block | None = None   # the YAML block this one directly follows, if any

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"


def code_blocks(doc: str) -> list[Block]:
    """The fenced code blocks of a Markdown file, in order (CommonMark fences, any indent)."""
    lines = (ROOT / doc).read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    previous_end = -2
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        indent, fence = len(match["indent"]), match["fence"]
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not (lines[i].strip().startswith(fence)
                                      and set(lines[i].strip()) == {fence[0]}):
            line = lines[i]
            body.append(line[min(indent, len(line) - len(line.lstrip(" "))):])
            i += 1
        block = Block(doc, start + 1, match["info"].strip().split(" ")[0].lower(),
                      "\n".join(body) + "\n")
        between = lines[previous_end + 1:start]
        if blocks and blocks[-1].lang == "yaml" and all(not s.strip() for s in between):
            block.after_yaml = blocks[-1]
        blocks.append(block)
        previous_end = i
        i += 1
    return blocks


def all_blocks() -> list[Block]:
    return [block for doc in DOCS for block in code_blocks(doc)]


def _session(block: Block) -> bool:
    return block.text.startswith("$ clockwf") and block.lang != "console"


def test_console_sessions_have_a_test_of_their_own() -> None:
    """A ```` ```console ```` session needs state built before it (a store published from an
    imported crontab, say): a test of its own (tests/acceptance/test_readme_*.py) prepares that
    state and reproduces the output; here we check that each one has such a test."""
    tests = "".join(p.read_text(encoding="utf-8")
                    for p in (ROOT / "tests" / "acceptance").glob("test_readme_*.py"))
    consoles = [b for b in all_blocks() if b.lang == "console"]
    for block in consoles:
        first = block.text.splitlines()[0]
        assert first.startswith("$ clockwf"), block.where
        assert first in tests, f"{block.where}: no test reproduces `{first}`"


def _params(blocks: list[Block]) -> list[Any]:
    return [pytest.param(b, id=b.where) for b in blocks]


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOCKWF_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "100"
    env["CLOCKWF_DB"] = str(tmp / "clockwf.db")
    return env


# -- the conventions themselves -----------------------------------------------------------------

def test_the_parser_finds_every_kind_of_block() -> None:
    """The README has a quick start, a definition, a Python example and sessions: if the parser
    missed them, every test below would pass on nothing."""
    blocks = code_blocks("README.md")
    langs = [b.lang for b in blocks]
    assert langs.count("sh") >= 2 and "yaml" in langs and "python" in langs
    assert sum(_session(b) for b in blocks) >= 2
    assert all(b.text.strip() for b in blocks)


# -- the quick start ------------------------------------------------------------------------------

def _quick_start() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [b.text.strip() for b in code_blocks("README.md")
            if b.lang == "sh" and b.text.strip() in section]


def test_the_quick_start_is_two_commands_and_the_second_is_what_ci_runs() -> None:
    commands = _quick_start()
    assert len(commands) == 2 and all("\n" not in c for c in commands), commands
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci.splitlines(), "the README's test command is not the one CI runs"


@pytest.mark.slow
def test_the_quick_start_first_command_runs_as_written(tmp_path: Path) -> None:
    """In a copy of the repository, exactly as a newcomer would: a venv, pip install, publish,
    emit, run, the daemon until idle, and the runs it shows."""
    repo = tmp_path / "clockwf"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(
        ".git", ".venv", "*.egg-info", "__pycache__", ".*_cache", "build", "*.db", "*.db-*"))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CLOCKWF_") and k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    first = _quick_start()[0]
    proc = subprocess.run(["sh", "-c", first], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (repo / "clockwf.db").is_file()
    runs = subprocess.run([str(repo / ".venv" / "bin" / "clockwf"), "runs", "--format", "json"],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=120,
                          check=True)
    listed = json.loads(runs.stdout)["runs"]
    assert {r["trigger_type"] for r in listed} >= {"manual", "event"}
    assert all(r["status"] == "succeeded" for r in listed), listed
    # `runs show last` printed the manual run's step and its output
    assert "succeeded" in proc.stdout.splitlines()[-1] or "succeeded" in proc.stdout


# -- Python examples ------------------------------------------------------------------------------

def _expected_comments(source: str) -> tuple[str, list[str]]:
    lines = source.rstrip("\n").splitlines()
    expected: list[str] = []
    while lines and lines[-1].startswith("#"):
        expected.insert(0, lines.pop()[1:].removeprefix(" "))
    return "\n".join(lines) + "\n", expected


@pytest.mark.parametrize("block", _params([b for b in all_blocks() if b.lang == "python"]))
def test_python_example(block: Block) -> None:
    code, expected = _expected_comments(block.text)
    tree = ast.parse(code, filename=block.where)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    namespace: dict[str, Any] = {"__name__": "__doc_example__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(tree, block.where, "exec"), namespace)
        value = None
        if last is not None:
            value = eval(compile(ast.Expression(last.value), block.where, "eval"), namespace)
    shown = out.getvalue().splitlines() + ([repr(value)] if value is not None else [])
    assert shown == expected, f"{block.where}: the comment says {expected}, the code gives {shown}"


# -- sessions: `$ clockwf ...` and the output shown -----------------------------------------------

def _commands(text: str) -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    for line in text.rstrip("\n").splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        else:
            out[-1][1].append(line.rstrip())
    return out


@pytest.mark.parametrize("block", _params([b for b in all_blocks() if _session(b)]))
def test_session_shows_the_real_output(block: Block, tmp_path: Path) -> None:
    commands = _commands(block.text)
    cwd = ROOT
    if block.after_yaml is not None:
        cwd = tmp_path / "work"
        cwd.mkdir()
        name = shlex.split(commands[0][0])[-1]
        (cwd / name).write_text(block.after_yaml.text, encoding="utf-8")
    for command, expected in commands:
        argv = shlex.split(command)
        assert argv[0] == "clockwf", f"{block.where}: only clockwf commands run here"
        proc = subprocess.run([sys.executable, "-m", "clockwf", *argv[1:]], cwd=cwd,
                              env=_env(tmp_path), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=120, check=False)
        shown = [line.rstrip() for line in proc.stdout.rstrip("\n").splitlines()]
        assert "Traceback" not in proc.stdout, proc.stdout
        if expected:
            assert shown == expected, (f"{block.where}: `{command}` shows\n" + "\n".join(shown))
        else:
            assert proc.returncode == 0, f"{block.where}: `{command}` failed:\n{proc.stdout}"


# -- YAML examples --------------------------------------------------------------------------------

def _yaml_examples() -> list[Block]:
    """YAML blocks that no session validates (those are checked with their exact message)."""
    blocks = all_blocks()
    shown = {(b.after_yaml.doc, b.after_yaml.line) for b in blocks if _session(b) and b.after_yaml}
    return [b for b in blocks if b.lang == "yaml" and (b.doc, b.line) not in shown]


def _as_definition(block: Block) -> str | None:
    """The block as a definition file (a fragment completed), or None if it is no definition."""
    data = yaml.safe_load(block.text)
    if not isinstance(data, dict) or not set(data) & DEFINITION_KEYS:
        return None
    text = block.text
    if "id" not in data:
        text = f"id: doc-example-{block.line}\n" + text
    if "steps" not in data:
        text += "steps: [{run: 'true'}]\n"
    return text


def test_every_yaml_example_is_valid(tmp_path: Path) -> None:
    blocks = _yaml_examples()
    assert blocks, "no YAML example found"
    files: dict[str, Block] = {}
    for block in blocks:
        text = _as_definition(block)
        if text is None:
            continue
        path = tmp_path / f"{Path(block.doc).stem}-{block.line}.yaml"
        path.write_text(text, encoding="utf-8")
        files[str(path)] = block
    assert files, "no definition among the YAML examples"
    proc = subprocess.run([sys.executable, "-m", "clockwf", "validate", "--format", "json",
                           *files], env=_env(tmp_path), capture_output=True, text=True,
                          timeout=120, check=False)
    reports = json.loads(proc.stdout)["files"]
    assert len(reports) == len(files)
    bad = [f"{files[r['path']].where}: {r}" for r in reports if not r["ok"]]
    assert not bad, "YAML examples that do not validate:\n" + "\n".join(bad)
    assert proc.returncode == 0
