"""Every command has help text, every option has a description, and the README names every
command (docs that cannot drift)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from clockwf.cli import app, main

ROOT = Path(__file__).resolve().parents[2]
SPEC_COMMANDS = {"validate", "publish", "pause", "resume", "delete", "list", "show", "next",
                 "runs", "run", "emit", "backfill", "tick", "daemon", "explain", "simulate",
                 "schema", "db", "status"}


def _commands() -> list[tuple[str, Any]]:
    root = typer.main.get_command(app)
    out = []
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        out.append((name, cmd))
        for sub, subcmd in getattr(cmd, "commands", {}).items():
            out.append((f"{name} {sub}", subcmd))
    return out


def test_every_spec_command_exists() -> None:
    names = {name.split()[0] for name, _ in _commands()}
    assert names >= SPEC_COMMANDS


@pytest.mark.parametrize(("name", "cmd"), _commands(), ids=[n for n, _ in _commands()])
def test_command_has_help_and_documented_options(name: str, cmd: Any) -> None:
    assert (cmd.help or "").strip(), f"{name} has no help text"
    for param in cmd.params:
        if getattr(param, "param_type_name", "") == "option" and param.name != "help":
            assert (param.help or "").strip(), f"{name} --{param.name} has no help text"
    result = CliRunner().invoke(app, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_readme_names_every_command() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in {n.split()[0] for n, _ in _commands()}:
        assert f"`{name}" in readme, f"README does not mention {name}"


def test_usage_error_exits_2() -> None:
    assert main(["list", "--no-such-option"]) == 2
    assert main(["no-such-command"]) == 2
