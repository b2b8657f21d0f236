"""Pydantic validation errors -> diagnostics that name the file, line, column and field.

:class:`ErrorMapper` turns the errors of ``Definition.model_validate`` into
:class:`~clockwf.errors.Diagnostic` objects with human messages (what was expected, the closest
valid key or value); :class:`Locator` is the part shared with the semantic checks of
:mod:`clockwf.validate`: a diagnostic at the position of a path in the YAML file.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from clockwf.errors import Diagnostic
from clockwf.models import (
    EVENT_PATTERN,
    ID_PATTERN,
    STEP_ID_PATTERN,
    TRIGGER_TYPES,
    Definition,
    FieldProblem,
)
from clockwf.yamlload import PositionMap, YamlPath, format_path


def describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "nothing (null)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "true or false",
    "float_type": "a number",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list (- item)",
}

_PATTERNS = {
    ID_PATTERN: "lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, "
                "at most 128 characters",
    STEP_ID_PATTERN: "lower-case letters, digits, '.', '_' and '-', starting with a letter or "
                     "digit, at most 64 characters",
    EVENT_PATTERN: "letters, digits, '.', '_', ':', '/' and '-', starting with a letter or "
                   "digit, at most 128 characters",
}


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional from a type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _variants(tp: Any) -> list[type[BaseModel]]:
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return []
    return [a for a in map(_unwrap, typing.get_args(tp)) if _is_model(a)]


def _literal_values(tp: Any) -> tuple[Any, ...]:
    tp = _unwrap(tp)
    return typing.get_args(tp) if typing.get_origin(tp) is Literal else ()


def _tag_of(model: type[BaseModel]) -> str | None:
    values = _literal_values(model.model_fields["type"].annotation) \
        if "type" in model.model_fields else ()
    return values[0] if len(values) == 1 else None


def _child(tp: Any, part: str | int) -> Any:
    tp = _unwrap(tp)
    if _is_model(tp) and isinstance(part, str):
        field = tp.model_fields.get(part)
        return field.annotation if field is not None else None
    origin = typing.get_origin(tp)
    if origin is list and isinstance(part, int):
        return typing.get_args(tp)[0]
    if origin is dict:
        return typing.get_args(tp)[1]
    return None


@dataclasses.dataclass
class _Loc:
    """A pydantic loc made into a path of the file, with the types met along it."""

    path: YamlPath
    types: list[Any]  # types[i]: the type of the value at path[:i]
    dict_key: bool = False

    @property
    def type(self) -> Any:
        return _unwrap(self.types[-1])

    @property
    def parent_type(self) -> Any:
        return _unwrap(self.types[-2]) if len(self.types) > 1 else None


def _resolve(loc: Sequence[str | int], root: Any = Definition) -> _Loc:
    """Strip discriminator tags (``('trigger', 'recurring', 'cron')`` -> ``trigger.cron``)."""
    path: list[str | int] = []
    seen: list[Any] = [root]
    dict_key = False
    for part in loc:
        if part == "[key]":
            dict_key = True
            continue
        current = _unwrap(seen[-1])
        variant = next((v for v in _variants(current) if _tag_of(v) == part), None)
        if variant is not None:
            seen[-1] = variant
            continue
        path.append(part)
        seen.append(_child(current, part))
    return _Loc(tuple(path), seen, dict_key)


def _union_tags(tp: Any) -> list[str]:
    tags = [t for t in map(_tag_of, _variants(_unwrap(tp))) if t is not None]
    return [t for t in TRIGGER_TYPES if t in tags] + [t for t in tags if t not in TRIGGER_TYPES]


_CUTOFF = 0.6


def _close(word: Any, options: Iterable[str]) -> str:
    if not isinstance(word, str):
        return ""
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=_CUTOFF)
    return f"; did you mean {match[0]!r}?" if match else ""


class Locator:
    """Makes diagnostics that point into one file."""

    def __init__(self, positions: PositionMap, path: str) -> None:
        self.positions = positions
        self.path = path

    def at(self, message: str, path: YamlPath, *, key: bool = False,
           field: YamlPath | None = None, char: tuple[str, int] | None = None) -> Diagnostic:
        """A diagnostic at the value of ``path`` (its key with ``key=True``), or at its nearest
        ancestor in the file; ``field`` names the field when it is not ``path``; ``char``
        (the string value, an index) points at one character of the value."""
        found = self.positions.nearest(path)
        line = column = None
        if found is not None:
            found_path, where = found
            pos = where.key or where.value if key and found_path == path else where.value
            if char is not None and found_path == path:
                pos = self.positions.char(path, *char) or pos
            line, column = pos.line, pos.column
        return Diagnostic(message, line, column, format_path(path if field is None else field),
                          self.path)


class ErrorMapper(Locator):
    """Turns pydantic errors into diagnostics with positions and human messages (of a
    definition, or of another model ``root`` such as a calendar file's)."""

    def __init__(self, positions: PositionMap, path: str, root: Any = Definition) -> None:
        super().__init__(positions, path)
        self.root = root

    def map(self, errors: Sequence[ErrorDetails]) -> list[Diagnostic]:
        # A misspelt key ('crn', did you mean 'cron'?) also makes 'cron' missing: say it once.
        meant: set[YamlPath] = set()
        for error in errors:
            if error["type"] == "extra_forbidden":
                loc = _resolve(error["loc"], self.root)
                if _is_model(loc.parent_type):
                    match = difflib.get_close_matches(str(loc.path[-1]),
                                                      list(loc.parent_type.model_fields),
                                                      n=1, cutoff=_CUTOFF)
                    meant.update((*loc.path[:-1], m) for m in match)
        return [self.one(error) for error in errors
                if not (error["type"] == "missing" and _resolve(error["loc"], self.root).path in meant)]

    def one(self, error: ErrorDetails) -> Diagnostic:
        kind = error["type"]
        loc = _resolve(error["loc"], self.root)
        ctx = error.get("ctx") or {}
        value = error.get("input")
        if kind == "value_error" and isinstance(ctx.get("error"), FieldProblem):
            return self._field_problem(ctx["error"], loc, value)
        if kind == "extra_forbidden":
            return self.at(self._unknown_key(loc), loc.path, key=True)
        if kind == "missing":
            return self.at(self.missing(loc), loc.path[:-1], key=True, field=loc.path)
        if kind == "union_tag_invalid":
            return self.at(self._bad_trigger_type(loc, ctx), (*loc.path, "type"))
        if kind == "union_tag_not_found":
            tags = _union_tags(loc.type)
            return self.at(f"missing required field 'type' (trigger type must be one of "
                           f"{', '.join(tags)})", loc.path, key=True, field=(*loc.path, "type"))
        if kind in _EXPECTED:
            return self.at(self.wrong_type(_EXPECTED[kind], value, loc), loc.path,
                           key=loc.dict_key)
        return self.at(self._bad_value(error, loc, ctx, value), loc.path)

    def _field_problem(self, problem: FieldProblem, loc: _Loc, value: Any) -> Diagnostic:
        """A model's own check failed: at the field it names, or at one character of the
        value."""
        if problem.missing:
            return self.at(problem.message, loc.path, key=True,
                           field=loc.path + tuple(problem.loc))
        char = (value, problem.offset) if problem.offset is not None and not problem.loc \
            and isinstance(value, str) else None
        return self.at(problem.message, loc.path + tuple(problem.loc), char=char)

    @staticmethod
    def _unknown_key(loc: _Loc) -> str:
        name = loc.path[-1]
        valid = list(loc.parent_type.model_fields) if _is_model(loc.parent_type) else []
        message = f"unknown key {name!r}"
        if valid:
            message += f" (valid keys: {', '.join(valid)}{_close(name, valid)})"
        return message

    @staticmethod
    def _bad_trigger_type(loc: _Loc, ctx: dict[str, Any]) -> str:
        tags = _union_tags(loc.type)
        message = f"trigger type must be one of {', '.join(tags)}; got {ctx.get('tag')!r}"
        if ctx.get("tag") == "manual":
            message += " (leave trigger out for a workflow that is started only by hand)"
        else:
            message += _close(ctx.get("tag"), tags)
        return message

    @staticmethod
    def _bad_value(error: ErrorDetails, loc: _Loc, ctx: dict[str, Any], value: Any) -> str:
        """The message of a value outside what its field allows (a literal, a pattern, a
        length, a bound), or pydantic's own."""
        kind = error["type"]
        if kind == "literal_error":
            options = [str(v) for v in _literal_values(loc.type)]
            return f"must be one of {', '.join(options)}; got {value!r}{_close(value, options)}"
        if kind == "string_pattern_mismatch":
            pattern = str(ctx.get("pattern"))
            what = _PATTERNS.get(pattern, f"match {pattern}")
            return f"must be {what}; got {value!r}"
        if kind == "too_short":
            least = ctx.get("min_length", 1)
            if loc.path == ("steps",):
                return "a workflow needs at least one step (a list of run: or http: steps)"
            return f"needs at least {least} item{'s' if least != 1 else ''}"
        if kind == "string_too_short":
            return "must not be empty"
        if kind in ("greater_than_equal", "greater_than"):
            bound = ctx.get("ge", ctx.get("gt"))
            return f"must be at least {bound}; got {value!r}"
        if kind in ("less_than_equal", "less_than"):
            bound = ctx.get("le", ctx.get("lt"))
            return f"must be at most {bound}; got {value!r}"
        return str(error.get("msg", "invalid value")).removeprefix("Value error, ")

    @staticmethod
    def missing(loc: _Loc) -> str:
        name = loc.path[-1]
        parent = loc.parent_type
        message = f"missing required field {name!r}"
        if _is_model(parent) and isinstance(name, str) and name in parent.model_fields:
            examples = parent.model_fields[name].examples
            if examples:
                message += f" (for example {name}: {json.dumps(examples[0])})"
        return message

    @staticmethod
    def wrong_type(expected: str, value: Any, loc: _Loc) -> str:
        if loc.dict_key:
            return f"keys must be strings, got {describe(value)}"
        message = f"expected {expected}, got {describe(value)}"
        if expected == "a string":
            if isinstance(value, bool):
                message += " (YAML reads yes, no, on, off, true and false as booleans: quote it)"
            elif isinstance(value, int | float):
                message += " (quote it)"
            elif value is None:
                message += " (write a value or leave the key out)"
        elif expected == "an integer" and isinstance(value, str) and value.strip().isdigit():
            message += " (write it without quotes)"
        return message
