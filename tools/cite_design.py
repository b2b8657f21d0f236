"""Rewrite citations of the retired product specification as citations of docs/design.md.

The product contract used to live in a document outside this repository, cited in comments as
"SPEC" followed by a section number. Its content now lives in docs/design.md, under different
numbers. This script rewrites every such citation in place, section by section::

    (SPEC 3.2, 3.3)     ->  (docs/design.md §2.2, §2.3)
    SPEC 3.1 to 3.3     ->  docs/design.md §2.1 to §2.3
    SPEC section 2      ->  docs/design.md §1

A section with no counterpart (the old command-line section: the README has the commands) is
dropped from its list. Re-running the script is harmless: it only touches citations that are
still in the old form, so it can be run again after merging work that added some.

    python tools/cite_design.py            # rewrite, print what changed
    python tools/cite_design.py --check    # exit 1 if any old citation is left
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("clockwf", "tests", "bench", "tools", "examples", "docs", "schema")
FILES = ("README.md",)
SUFFIXES = {".json", ".py", ".sql", ".md", ".yaml", ".yml", ".toml", ".txt", ".service", ".cfg", ".ini",
            ".sh"}

# Old section -> section of docs/design.md (None: no counterpart, the number is dropped).
MAPPING: dict[str, str | None] = {
    "1": "1",
    "2": "1",        # the definition file: docs/format.md, introduced in design section 1
    "3": "2",
    "3.1": "2.1",
    "3.2": "2.2",
    "3.3": "2.3",
    "3.4": "2.5",
    "4": "4",
    "4.1": "4.1",
    "4.2": "4.3",
    "4.3": "4.4",
    "4.4": "7.2",
    "5": "6",
    "5.1": "7.1",
    "5.2": "3",
    "5.3": "6.2",
    "5.4": "6.3",
    "6": "9",
    "7": "8",
    "8": None,       # the command line: README.md, "Commands"
    "9": "10",
}

# Where the section number alone says too little: (file, old section) -> design section.
OVERRIDES: dict[tuple[str, str], str | None] = {
    ("clockwf/runs.py", "5"): "7",   # manual starts, events, backfills: the launcher
}

# Files whose citations are removed rather than rewritten: the models' docstrings become the
# descriptions of the JSON Schema that editors show users (and its committed copy), where a
# pointer into the design would be noise.
DROP = ("clockwf/models.py", "schema/")

_NUM = r"\d+(?:\.\d+)?"
_SEP = r"\s*(?:,|/|\bto\b)\s*"
# "SPEC 3.2", "SPEC §3.2", "SPEC section 2", "SPEC 3.2, 3.3", "SPEC 3.2/3.3", "SPEC 3.1 to 3.3"
CITATION = re.compile(
    rf"(?P<open>\()?\bSPEC\s+(?:section\s+|§\s*)?(?P<first>{_NUM})"
    rf"(?P<rest>(?:{_SEP}§?{_NUM})*)(?P<close>\))?"
)
# "(docs/design.md §2.2, §2.3)", with its leading space: removed from the DROP files.
DESIGN_NOTE = re.compile(r" ?\(docs/design\.md §[^)]*\)")
# What a test checks is gone: "SPEC" then a section number, in any of the forms above.
LEFTOVER = re.compile(rf"\bSPEC\s+(?:section\s+|§\s*)?{_NUM}")


def _convert(match: re.Match[str], where: str = "") -> str:
    parts = re.split(f"({_SEP})", match["first"] + match["rest"])
    numbers = [p.lstrip("§") for p in parts[0::2]]
    seps = parts[1::2]
    out: list[str] = []
    for i, number in enumerate(numbers):
        if number not in MAPPING:   # a subsection the old document did not have: its section
            number = number.split(".")[0]
        if number not in MAPPING:
            print(f"{where}: no design section for {match[0]!r}; left as it is", file=sys.stderr)
            return match[0]
        target = OVERRIDES.get((where, number), MAPPING[number])
        if where.startswith(DROP):
            target = None
        if target is None:
            continue
        if out:
            out.append(seps[i - 1] if i - 1 < len(seps) else ", ")
        out.append(f"§{target}")
    text = "docs/design.md " + "".join(out) if out else ""
    opened, closed = match["open"] or "", match["close"] or ""
    if not text and opened and closed:
        return "\0"   # an emptied "(...)": removed with its leading space below
    return f"{opened}{text}{closed}"


def rewrite(text: str, where: str = "") -> str:
    """``text`` with every old citation rewritten; ``where`` is its path in the repository.
    A comment banner ending in a run of dashes keeps its width."""
    out = []
    for line in text.splitlines(keepends=True):
        new = re.sub(r" ?\0", "", CITATION.sub(lambda m: _convert(m, where), line))
        if where.startswith(DROP):
            new = DESIGN_NOTE.sub("", new)
        grown = len(new) - len(line)
        banner = re.search(r"-{6,}(?=\s*$)", new)
        if grown > 0 and banner:
            keep = max(3, len(banner[0]) - grown)
            new = new[:banner.start()] + "-" * keep + new[banner.end():]
        out.append(new)
    return "".join(out)


def candidate_files(root: Path = ROOT) -> list[Path]:
    files = [root / name for name in FILES if (root / name).is_file()]
    for folder in FOLDERS:
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if (path.is_file() and path.suffix in SUFFIXES and ".venv" not in path.parts
                    and "__pycache__" not in path.parts):
                files.append(path)
    return [p for p in files if p.resolve() != Path(__file__).resolve()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 when an old citation is left")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository")
    args = parser.parse_args(argv)
    left = 0
    for path in candidate_files(args.root):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        rel = path.relative_to(args.root)
        if not LEFTOVER.search(text) and not (rel.as_posix().startswith(DROP)
                                              and DESIGN_NOTE.search(text)):
            continue
        if args.check:
            for n, line in enumerate(text.splitlines(), 1):
                if LEFTOVER.search(line):
                    print(f"{rel}:{n}: {line.strip()}")
                    left += 1
            continue
        new = rewrite(text, rel.as_posix())
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote {rel}")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
