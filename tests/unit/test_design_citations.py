"""docs/design.md is the design of record: code, tests and docs cite its sections, and nothing
cites the retired specification by section number any more.

The scan is independent of ``tools/cite_design.py`` (which rewrites old citations), so a bug in
the tool cannot hide a leftover; the tool's own rewriting is tested on examples below."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
DESIGN = ROOT / "docs" / "design.md"
FOLDERS = ("clockwf", "tests", "bench", "tools", "examples", "docs", "schema")
TOOL = ROOT / "tools" / "cite_design.py"

OLD_CITATION = re.compile(r"\bSPEC\s+(?:section\s+|§\s*)?\d")
# "docs/design.md §6" or "docs/design.md §6.2, §6.3" / "§2.1 to §2.3" / "§2.2/§2.3"
NEW_CITATION = re.compile(r"docs/design\.md\s+((?:§\d+(?:\.\d+)?(?:\s*(?:,|/|to)\s*)?)+)")


def _files() -> list[Path]:
    out = [ROOT / "README.md"]
    for folder in FOLDERS:
        for path in (ROOT / folder).rglob("*"):
            if not path.is_file() or "__pycache__" in path.parts or path == TOOL:
                continue
            try:
                path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            out.append(path)
    return out


def _headings() -> list[str]:
    """The section numbers of docs/design.md, in order: '1', '2', '2.1', ..."""
    return re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", DESIGN.read_text(encoding="utf-8"),
                      re.MULTILINE)


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cite_design", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_citation_of_the_old_specification_is_left() -> None:
    left = []
    for path in _files():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if OLD_CITATION.search(line):
                left.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not left, ("cite docs/design.md instead (python tools/cite_design.py rewrites "
                      "these):\n" + "\n".join(left))


def test_every_cited_design_section_exists() -> None:
    sections = set(_headings())
    cited = 0
    missing = []
    for path in _files():
        text = path.read_text(encoding="utf-8")
        for match in NEW_CITATION.finditer(text):
            for number in re.findall(r"§(\d+(?:\.\d+)?)", match[1]):
                cited += 1
                if number not in sections:
                    line = text.count("\n", 0, match.start()) + 1
                    missing.append(f"{path.relative_to(ROOT)}:{line}: §{number}")
    assert cited >= 30, "the code's comments should cite the design (found too few citations)"
    assert not missing, "cited sections that docs/design.md does not have:\n" + "\n".join(missing)


def test_design_sections_are_numbered_in_order() -> None:
    """Sections 1, 2, ... and within each N, N.1, N.2, ...: a renumbering that leaves a gap or a
    duplicate would silently re-point citations."""
    headings = _headings()
    major, minor = 0, 0
    for number in headings:
        if "." in number:
            top, sub = map(int, number.split("."))
            assert (top, sub) == (major, minor + 1), f"§{number} after §{major}.{minor}"
            minor = sub
        else:
            assert int(number) == major + 1, f"§{number} after §{major}"
            major, minor = int(number), 0
    assert major >= 12


def test_every_old_section_maps_to_an_existing_design_section() -> None:
    tool = _load_tool()
    sections = set(_headings())
    targets = set(tool.MAPPING.values()) | set(tool.OVERRIDES.values())
    assert {t for t in targets if t is not None} <= sections


@pytest.mark.parametrize(("before", "after"), [
    ("(@@ 3.2, 3.3)", "(docs/design.md §2.2, §2.3)"),
    ("computation (@@ 3.1 to 3.3).", "computation (docs/design.md §2.1 to §2.3)."),
    ("the @@ 3.2/3.3 rules", "the docs/design.md §2.2/§2.3 rules"),
    ("format (@@ section 2) and", "format (docs/design.md §1) and"),
    ("age (@@ 7, issue 5).", "age (docs/design.md §8, issue 5)."),
    ("status (@@ 4, 5, 8).", "status (docs/design.md §4, §6)."),
    ("commands (@@ 8).", "commands."),
    ("# @@ 9: a crash", "# docs/design.md §10: a crash"),
    ("(@@ 5.7)", "(docs/design.md §6)"),   # an unknown subsection: its section
    ("SPEC_COMMANDS = {}", "SPEC_COMMANDS = {}"),
    ("# -- execution (@@ 7) ------------------", "# -- execution (docs/design.md §8) -------"),
])
def test_the_tool_rewrites_each_form(before: str, after: str) -> None:
    tool = _load_tool()
    before = before.replace("@@", "SPEC")   # (spelt so that this file holds no old citation)
    assert tool.rewrite(before) == after
    assert tool.rewrite(after) == after   # running it again changes nothing


def test_the_tool_rewrites_files_in_place(tmp_path: Path) -> None:
    tool = _load_tool()
    (tmp_path / "clockwf").mkdir()
    old = "SPEC"
    (tmp_path / "clockwf" / "runs.py").write_text(f'"""Manual starts ({old} 5)."""\n')
    (tmp_path / "clockwf" / "tick.py").write_text(f'"""The tick ({old} 5, 6)."""\n')
    assert tool.main(["--check", "--root", str(tmp_path)]) == 1
    assert tool.main(["--root", str(tmp_path)]) == 0
    assert (tmp_path / "clockwf" / "runs.py").read_text() == \
        '"""Manual starts (docs/design.md §7)."""\n'
    assert (tmp_path / "clockwf" / "tick.py").read_text() == \
        '"""The tick (docs/design.md §6, §9)."""\n'
    assert tool.main(["--check", "--root", str(tmp_path)]) == 0


def test_user_facing_docstrings_lose_their_citations() -> None:
    """The models' docstrings are the JSON Schema's descriptions (and schema/ holds a copy):
    their citations are removed, old or new, so the two stay equal."""
    tool = _load_tool()
    old = "SPEC"
    before = f'    """What to do with missed and overlapping occurrences ({old} 5.3, 5.4)."""\n'
    after = '    """What to do with missed and overlapping occurrences."""\n'
    assert tool.rewrite(before, "clockwf/models.py") == after
    assert tool.rewrite(before.replace(f"{old} 5.3, 5.4", "docs/design.md §6.2, §6.3"),
                        "schema/clockwf.schema.json") == after
