"""Safe YAML loading that remembers where every value came from.

PyYAML only composes the document into nodes (``yaml.compose`` with :class:`yaml.SafeLoader`, so
implicit scalar types are resolved the YAML 1.1 way); our own walker then builds plain data from
the nodes. Nothing is ever constructed from a tag: any tag that is not a plain YAML type
(``!!python/...``, ``!custom``, ``!!binary``, ``!!set``) is refused before its value is read.

The walker records, for every path such as ``('steps', 1, 'http', 'url')``, the 1-based line and
column of the value and of its key, so that validation can point at the offending text. It also
refuses what a definition file never needs: more than 1 MiB, bytes that are not UTF-8, duplicate
keys, keys that are lists or mappings, more than one document, nesting deeper than
:data:`MAX_DEPTH` and (through aliases) more than :data:`MAX_NODES` values.

Deliberate departures from a plain ``yaml.safe_load``:

- timestamps stay the text they were written as (``run_at: 2027-01-15T09:00:00-05:00`` unquoted
  is the string ``"2027-01-15T09:00:00-05:00"``), so models see what the author wrote;
- mapping keys are always strings, the key as written (``on:`` is ``"on"``, not ``True``).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import yaml
from yaml.constructor import SafeConstructor
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from clockwf.errors import DefinitionInvalid, Diagnostic

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 100_000

YamlPath = tuple[str | int, ...]
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")

_YAML_TAG = "tag:yaml.org,2002:"
_MAP, _SEQ, _MERGE = _YAML_TAG + "map", _YAML_TAG + "seq", _YAML_TAG + "merge"
_TIMESTAMP = _YAML_TAG + "timestamp"
_SCALAR_TAGS = frozenset(_YAML_TAG + t for t in ("str", "int", "float", "bool", "null", "value"))
_CONSTRUCTOR = SafeConstructor()
_TAG_WHAT = {_YAML_TAG + "int": "an integer", _YAML_TAG + "float": "a number",
             _YAML_TAG + "bool": "true or false", _YAML_TAG + "null": "null"}
# NUL and lone surrogates: only double-quoted escapes ("\0", "\ud800") produce them. PostgreSQL
# text cannot store NUL, no command line can carry it, and a surrogate cannot even be printed.
_UNSAFE_CHAR = re.compile("[\x00\ud800-\udfff]")
_MAX_INT = 2**63 - 1   # no field takes more; beyond it a number is a mistake (or an attack)


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


@dataclass(frozen=True)
class Position:
    """A 1-based line and column in the source text."""

    line: int
    column: int

    @classmethod
    def of(cls, mark: Mark) -> Position:
        return cls(mark.line + 1, mark.column + 1)


@dataclass(frozen=True)
class NodePosition:
    """Where a value starts and where its key starts (``None`` for the root and list items);
    for a scalar, also where its text lies in the source (character indexes) and its style."""

    value: Position
    key: Position | None = None
    span: tuple[int, int] | None = None
    style: str | None = None


class PositionMap:
    """Path -> position of every value in a loaded document."""

    def __init__(self, entries: dict[YamlPath, NodePosition], text: str = "") -> None:
        self._entries = entries
        self._text = text

    def __contains__(self, path: object) -> bool:
        return path in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[YamlPath]:
        return iter(self._entries)

    def get(self, path: YamlPath) -> NodePosition | None:
        return self._entries.get(tuple(path))

    def value(self, path: YamlPath) -> Position | None:
        """The position of the value at ``path`` (``None`` when the path is not in the file)."""
        found = self._entries.get(tuple(path))
        return found.value if found else None

    def key(self, path: YamlPath) -> Position | None:
        """The position of the key at ``path``; for list items and the root, of the value."""
        found = self._entries.get(tuple(path))
        if found is None:
            return None
        return found.key or found.value

    def char(self, path: YamlPath, value: str, offset: int) -> Position | None:
        """Where ``value[offset]`` is written, ``value`` being the string at ``path``: found
        when the character is written as itself (not as an escape such as ``\\u00a0``);
        ``None`` otherwise."""
        found = self._entries.get(tuple(path))
        if found is None or found.span is None or not 0 <= offset < len(value):
            return None
        char = value[offset]
        start, end = found.span
        if found.style in ("|", ">"):       # the text starts on the line after the indicator
            start = self._text.find("\n", start, end) + 1 or end
        index = start - 1
        for _ in range(value.count(char, 0, offset) + 1):
            index = self._text.find(char, index + 1, end)
            if index < 0:
                return None
        # Count lines as PyYAML does, from the value's own position.
        line, column = found.value.line, found.value.column
        for i in range(found.span[0], index):
            ch = self._text[i]
            if ch in "\n\x85\u2028\u2029" or (ch == "\r" and self._text[i + 1:i + 2] != "\n"):
                line, column = line + 1, 1
            else:
                column += 1
        return Position(line, column)

    def nearest(self, path: YamlPath) -> tuple[YamlPath, NodePosition] | None:
        """The deepest recorded path that is ``path`` or one of its ancestors."""
        probe = tuple(path)
        while True:
            found = self._entries.get(probe)
            if found is not None:
                return probe, found
            if not probe:
                return None
            probe = probe[:-1]


@dataclass(frozen=True)
class LoadedYaml:
    """A loaded document: plain data (dicts, lists, scalars), its text, and positions."""

    data: Any
    text: str
    positions: PositionMap


def format_path(path: YamlPath) -> str | None:
    """``('steps', 1, 'http', 'url')`` -> ``steps[1].http.url``; the root is ``None``. A key
    that is not a plain name is quoted: ``headers["bad name"]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _PLAIN_KEY.match(part):
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
        else:
            out += f".{part}" if out else part
    return out or None


# UTF-32 first: its little-endian mark begins with UTF-16's.
_FOREIGN_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                 (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))


def read_capped(stream: BinaryIO) -> bytes:
    """Read at most :data:`MAX_BYTES` + 1 bytes, enough to tell that a file is too large."""
    return stream.read(MAX_BYTES + 1)


def read_file(path: str | Path) -> bytes:
    """The first :data:`MAX_BYTES` + 1 bytes of a file (``OSError`` when it cannot be read)."""
    with open(path, "rb") as stream:
        return read_capped(stream)


def decode(data: bytes | str, path: str | None = None) -> str:
    """The text of a definition file: at most 1 MiB of UTF-8 (an initial BOM is dropped)."""
    size = len(data.encode("utf-8", "surrogatepass")) if isinstance(data, str) else len(data)
    if size > MAX_BYTES:
        raise _invalid(path, "the file is larger than 1 MiB, the limit for a workflow "
                             "definition (one workflow per file)")
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    for bom, encoding in _FOREIGN_BOMS:
        if data.startswith(bom):
            raise _invalid(path, f"the file is {encoding} (it starts with a {encoding} "
                                 "byte-order mark): save it as UTF-8", 1, 1)
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line, column = _byte_position(data, exc.start)
        raise _invalid(
            path,
            f"the file is not UTF-8: byte 0x{data[exc.start]:02x} at line {line}, column "
            f"{column} cannot be decoded (save the file as UTF-8)",
            line, column) from None


def load(source: bytes | str, path: str | None = None) -> LoadedYaml:
    """Load one YAML document safely, with positions.

    Raises :class:`DefinitionInvalid` whose diagnostics name the line and column of each
    problem. An empty document loads as ``None``.
    """
    text = decode(source, path)
    try:
        root = _compose(text)
    except _TooDeep as exc:
        raise _invalid(path, exc.message, *exc.where) from None
    except RecursionError:
        raise _invalid(path, f"the document is nested too deeply (the limit is {MAX_DEPTH} "
                             "levels)") from None
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text, path) from None
    except yaml.reader.ReaderError as exc:
        line, column = _char_position(text, exc.position)
        raise _invalid(
            path, f"character #x{exc.character:04x} is not allowed in YAML (write it as an "
                  "escape such as \\t inside a double-quoted string)", line, column) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML error is one of the above
        raise _invalid(path, f"invalid YAML: {exc}") from None
    if root is None:
        return LoadedYaml(None, text, PositionMap({}))
    walker = _Walker(path)
    try:
        data = walker.build(root, (), None, 1)
    except _TooDeep as exc:
        raise _invalid(path, exc.message, *exc.where) from None
    except RecursionError:
        raise _invalid(path, f"the document is nested too deeply (the limit is {MAX_DEPTH} "
                             "levels)") from None
    if walker.problems:
        raise DefinitionInvalid(sorted(walker.problems, key=lambda d: (d.line or 0, d.column or 0)))
    return LoadedYaml(data, text, PositionMap(walker.positions, text))


# -- composing -------------------------------------------------------------------------------


class _TooDeep(Exception):
    def __init__(self, message: str, mark: Mark | None) -> None:
        super().__init__(message)
        self.message = message
        self.where: tuple[int | None, int | None] = (
            (mark.line + 1, mark.column + 1) if mark is not None else (None, None))


_DEPTH_MESSAGE = f"the document is nested more than {MAX_DEPTH} levels deep"


class _Loader(yaml.SafeLoader):
    """SafeLoader whose composer refuses deep nesting and more than one document."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _TooDeep(_DEPTH_MESSAGE, mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _MultipleDocuments(yaml.MarkedYAMLError):
    MESSAGE = ("one workflow per file: a second YAML document starts here (split it into its "
               "own file)")


def _compose(text: str) -> Node | None:
    loader = _Loader(text)
    try:
        loader.get_event()  # type: ignore[no-untyped-call]  # StreamStartEvent
        root: Node | None = None
        if not loader.check_event(yaml.StreamEndEvent):
            root = loader.compose_document()
        if not loader.check_event(yaml.StreamEndEvent):
            event = loader.get_event()  # type: ignore[no-untyped-call]
            raise _MultipleDocuments(problem=_MultipleDocuments.MESSAGE,
                                     problem_mark=event.start_mark)
        return root
    finally:
        loader.dispose()


# -- walking ---------------------------------------------------------------------------------


def _tag_name(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML_TAG) if tag.startswith(_YAML_TAG) else tag


_KIND = {ScalarNode: "a scalar", SequenceNode: "a list", MappingNode: "a mapping"}


class _Walker:
    """Builds plain data from composed nodes, recording positions and problems."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.positions: dict[YamlPath, NodePosition] = {}
        self.problems: list[Diagnostic] = []
        self.count = 0

    def problem(self, message: str, mark: Mark, path: YamlPath) -> None:
        pos = Position.of(mark)
        self.problems.append(Diagnostic(message, pos.line, pos.column, format_path(path),
                                        self.path))

    def build(self, node: Node, path: YamlPath, key: Position | None, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooDeep(f"the document expands to more than {MAX_NODES} values (through "
                           "aliases?); a workflow definition is far smaller", node.start_mark)
        if depth > MAX_DEPTH:
            raise _TooDeep(_DEPTH_MESSAGE + " (through aliases?)", node.start_mark)
        if isinstance(node, ScalarNode):
            self.positions[path] = NodePosition(Position.of(node.start_mark), key,
                                                (node.start_mark.index, node.end_mark.index),
                                                node.style)
        else:
            self.positions[path] = NodePosition(Position.of(node.start_mark), key)
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if node.tag not in (_MAP, _SEQ):
            self.refuse_tag(node, path)
            return None
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, index), None, depth + 1)
                    for index, item in enumerate(node.value)]
        assert isinstance(node, MappingNode)
        return self.mapping(node, path, depth)

    def refuse_tag(self, node: Node, path: YamlPath) -> None:
        name = _tag_name(node.tag)
        if node.tag.startswith(_YAML_TAG + "python/") or not node.tag.startswith(_YAML_TAG):
            why = "refused: only plain YAML values are read, no object is ever constructed"
        else:
            why = "not supported in a workflow definition"
        self.problem(f"tag {name} is {why} (write strings, numbers, booleans, lists and "
                     "mappings without tags)", node.start_mark, path)

    def scalar(self, node: ScalarNode, path: YamlPath) -> Any:
        if node.tag == _TIMESTAMP:
            return self.text(node, path)
        if node.tag not in _SCALAR_TAGS:
            self.refuse_tag(node, path)
            return None
        if node.tag.endswith((":str", ":value")):
            return self.text(node, path)
        try:
            value = _CONSTRUCTOR.yaml_constructors[node.tag](_CONSTRUCTOR, node)
        except (ValueError, KeyError, TypeError, OverflowError):
            # An explicit tag on a value it does not fit (!!int abc, !!bool maybe), or an integer
            # beyond Python's digit limit: PyYAML's constructor raises a bare error.
            self.problem(self.unreadable(node), node.start_mark, path)
            return None
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_INT:
            # 0xfff...: hexadecimal escapes the digit limit, and the number could not even be
            # printed in a message later.
            self.problem(f"{_short(node.value)} is far too large a number (at most "
                         f"{_MAX_INT})", node.start_mark, path)
            return None
        return value

    def unreadable(self, node: ScalarNode) -> str:
        what = _TAG_WHAT.get(node.tag, "a plain value")
        if node.tag == _YAML_TAG + "int" and len(node.value) > 40:
            return f"{_short(node.value)} is far too large a number (at most {_MAX_INT})"
        return f"{_short(node.value)} cannot be read as {what} (it is tagged {_tag_name(node.tag)})"

    def text(self, node: ScalarNode, path: YamlPath) -> str:
        """A string value or key, refusing characters no file, store or command can carry."""
        value: str = node.value
        bad = _UNSAFE_CHAR.search(value)
        if bad is not None:
            char = bad.group()
            if char == "\0":
                message = ("a NUL character (\\0) is not allowed in a workflow definition: "
                           "no command, header or store can carry it (remove the \\0 escape)")
            else:
                message = (f"\\u{ord(char):04x} is a lone surrogate, not a character: it is "
                           "not allowed in a workflow definition (write the character itself, "
                           "or escape it whole, as in \\U0001F600)")
            self.problem(message, node.start_mark, path)
        return value

    def mapping(self, node: MappingNode, path: YamlPath, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merges: list[Node] = []
        explicit: list[tuple[str, Position, Node]] = []
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                self.problem(f"a key must be a plain name, not {_KIND[type(key_node)]}",
                             key_node.start_mark, path)
                continue
            if key_node.tag not in _SCALAR_TAGS and key_node.tag != _TIMESTAMP:
                self.refuse_tag(key_node, path)
                continue
            name = key_node.value
            if _UNSAFE_CHAR.search(name):
                self.text(key_node, path)  # reported at the mapping: the key cannot be shown
                continue
            key_pos = Position.of(key_node.start_mark)
            if name in first_line:
                self.problem(
                    f"duplicate key {name!r} (first on line {first_line[name]}, again on line "
                    f"{key_pos.line}): keep one", key_node.start_mark, (*path, name))
                continue
            first_line[name] = key_pos.line
            explicit.append((name, key_pos, value_node))
        # Merged keys (<<: *defaults) first, so that explicit keys overwrite them and their
        # positions.
        for merged in self.merge_sources(merges, path):
            for key_node, value_node in merged.value:
                if isinstance(key_node, ScalarNode) and key_node.tag in _SCALAR_TAGS:
                    name = key_node.value
                    if name not in first_line and name not in out:
                        out[name] = self.build(value_node, (*path, name),
                                               Position.of(key_node.start_mark), depth + 1)
        for name, key_pos, value_node in explicit:
            out[name] = self.build(value_node, (*path, name), key_pos, depth + 1)
        return out

    def merge_sources(self, merges: list[Node], path: YamlPath) -> list[MappingNode]:
        sources: list[MappingNode] = []
        for value in merges:
            items = value.value if isinstance(value, SequenceNode) else [value]
            for item in items:
                if isinstance(item, MappingNode) and item.tag == _MAP:
                    sources.append(item)
                else:
                    self.problem("a merge key (<<) takes a mapping or a list of mappings",
                                 item.start_mark, path)
        return sources


# -- error messages --------------------------------------------------------------------------


def _invalid(path: str | None, message: str, line: int | None = None,
             column: int | None = None) -> DefinitionInvalid:
    return DefinitionInvalid([Diagnostic(message, line, column, None, path)])


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    start = data.rfind(b"\n", 0, offset) + 1
    line = data.count(b"\n", 0, offset) + 1
    column = len(data[start:offset].decode("utf-8", "replace")) + 1
    return line, column


def _char_position(text: str, index: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - start + 1


# A plain (unquoted) value that starts with * (an alias to YAML) or @ (reserved).
_UNQUOTED_SPECIAL = re.compile(r"^(\s*(?:-\s+)*(?:[^\s#'\"][^#]*?:\s+)?)([*@])")


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, path: str | None) -> DefinitionInvalid:
    mark = exc.problem_mark or exc.context_mark
    problem = (exc.problem or exc.context or "syntax error").strip()
    if isinstance(exc, _MultipleDocuments):
        message = problem
    elif problem.startswith("expected '<document start>'"):
        # Content after a document end marker (...): a second document without its ---.
        message = _MultipleDocuments.MESSAGE
    else:
        message = f"invalid YAML: {problem}"
        if exc.context and exc.problem and exc.context_mark is not None:
            message += (f" ({exc.context} started at line {exc.context_mark.line + 1}, "
                        f"column {exc.context_mark.column + 1})")
    line = column = None
    if mark is not None:
        line, column = mark.line + 1, mark.column + 1
        lines = text.splitlines()
        source_line = lines[mark.line] if mark.line < len(lines) else ""
        special = _UNQUOTED_SPECIAL.match(source_line)
        if special and not isinstance(exc, _MultipleDocuments | yaml.composer.ComposerError):
            column = len(special.group(1)) + 1
            value = source_line[column - 1:].split(" #")[0].strip()
            message += (f"; a value starting with {special.group(2)} must be quoted: quote "
                        f"the cron expression, e.g. {special.group(1).strip()} \"{value}\"")
        elif "\t" in problem or "'\\t'" in problem:
            message += "; indent with spaces, not tabs"
        elif "mapping values are not allowed" in problem:
            message += "; quote a value that contains ': '"
    return DefinitionInvalid([Diagnostic(message, line, column, None, path)])
