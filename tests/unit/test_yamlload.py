"""Safe YAML loading with positions (clockwf.yamlload)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from clockwf.errors import DefinitionInvalid, Diagnostic
from clockwf.yamlload import (
    MAX_BYTES,
    MAX_DEPTH,
    Position,
    format_path,
    load,
    read_capped,
    read_file,
)


def fails(source: str | bytes) -> Diagnostic:
    """The single diagnostic of a document that must not load."""
    with pytest.raises(DefinitionInvalid) as info:
        load(source, "wf.yaml")
    assert len(info.value.diagnostics) == 1, info.value.diagnostics
    diagnostic = info.value.diagnostics[0]
    assert diagnostic.path == "wf.yaml"
    return diagnostic


DOC = """\
id: nightly
trigger:
  type: recurring
  cron: "30 2 * * *"
steps:
  - run: echo one
  - http:
      url: https://example.com/hook
"""


class TestPositions:
    def test_values_and_keys_are_one_based(self) -> None:
        loaded = load(DOC)
        pos = loaded.positions
        assert pos.value(("id",)) == Position(1, 5)
        assert pos.key(("id",)) == Position(1, 1)
        assert pos.value(("trigger", "cron")) == Position(4, 9)
        assert pos.key(("trigger", "cron")) == Position(4, 3)
        assert pos.value(("steps", 1, "http", "url")) == Position(8, 12)
        assert pos.key(("steps", 1, "http", "url")) == Position(8, 7)

    def test_list_items_have_no_key_and_fall_back_to_the_value(self) -> None:
        pos = load(DOC).positions
        entry = pos.get(("steps", 0))
        assert entry is not None and entry.key is None
        assert pos.key(("steps", 0)) == Position(6, 5)

    def test_nearest_walks_up_to_a_recorded_ancestor(self) -> None:
        pos = load(DOC).positions
        found = pos.nearest(("trigger", "dst", "gap"))
        assert found is not None
        assert found[0] == ("trigger",)
        assert pos.value(("trigger", "dst")) is None

    def test_data_is_plain(self) -> None:
        data = load(DOC).data
        assert data == {
            "id": "nightly",
            "trigger": {"type": "recurring", "cron": "30 2 * * *"},
            "steps": [{"run": "echo one"}, {"http": {"url": "https://example.com/hook"}}],
        }


class TestScalars:
    def test_yaml_11_types_are_kept(self) -> None:
        data = load("a: yes\nb: 0x10\nc: ~\nd: 1.5\ne: 'yes'\nf: 010\n").data
        assert data == {"a": True, "b": 16, "c": None, "d": 1.5, "e": "yes", "f": 8}

    def test_timestamps_stay_text(self) -> None:
        data = load("run_at: 2027-01-15T09:00:00-05:00\nday: 2027-01-15\n").data
        assert data == {"run_at": "2027-01-15T09:00:00-05:00", "day": "2027-01-15"}

    def test_keys_are_the_text_written(self) -> None:
        assert load("on: 1\n2: x\nnull: y\n").data == {"on": 1, "2": "x", "null": "y"}

    def test_empty_document_is_none(self) -> None:
        assert load("").data is None
        assert load("# just a comment\n").data is None

    def test_merge_keys_merge_and_explicit_keys_win(self) -> None:
        loaded = load("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n")
        assert loaded.data["c"] == {"x": 1, "y": 3}
        assert loaded.positions.value(("c", "y")) == Position(4, 6)
        assert loaded.positions.value(("c", "x")) == Position(1, 14)


class TestRefused:
    def test_duplicate_key_names_both_lines(self) -> None:
        d = fails("trigger:\n  cron: a\n  type: b\n  cron: c\n")
        assert d.message.startswith("duplicate key 'cron' (first on line 2, again on line 4)")
        assert (d.line, d.column, d.field) == (4, 3, "trigger.cron")

    def test_every_duplicate_is_reported(self) -> None:
        with pytest.raises(DefinitionInvalid) as info:
            load("a: 1\nb:\n  c: 2\n  c: 3\na: 4\n")
        assert [(d.line, d.field) for d in info.value.diagnostics] == [(4, "b.c"), (5, "a")]

    def test_non_scalar_key(self) -> None:
        d = fails("? [a, b]\n: 1\n")
        assert "a key must be a plain name, not a list" in d.message
        assert d.line == 1

    def test_python_tag_is_refused_and_nothing_runs(self, tmp_path: Path) -> None:
        marker = tmp_path / "pwned"
        d = fails(f'steps:\n  - run: !!python/object/apply:os.system ["touch {marker}"]\n')
        assert "tag !!python/object/apply:os.system is refused" in d.message
        assert (d.line, d.column, d.field) == (2, 10, "steps[0].run")
        assert not marker.exists()

    @pytest.mark.parametrize("value", ["!custom 1", "!!binary aGk=", "!!set {a: null}",
                                       "!!omap [a: 1]", "!!python/name:os.system ''"])
    def test_other_tags_are_refused(self, value: str) -> None:
        d = fails(f"a: {value}\n")
        assert d.message.startswith("tag ")
        assert (d.line, d.column) == (1, 4)

    def test_plain_yaml_tags_are_fine(self) -> None:
        assert load("a: !!str 5\nb: !!int '7'\n").data == {"a": "5", "b": 7}

    def test_bad_utf8_names_the_byte_and_its_position(self) -> None:
        d = fails(b"id: ok\nname: caf\xc3\xa9 \xff\n")
        assert "not UTF-8: byte 0xff at line 2, column 12" in d.message
        assert (d.line, d.column) == (2, 12)

    def test_utf8_bom_is_accepted(self) -> None:
        assert load(b"\xef\xbb\xbfid: x\n").data == {"id": "x"}

    def test_control_character(self) -> None:
        d = fails("a: b\x07\n")
        assert "#x0007" in d.message
        assert (d.line, d.column) == (1, 5)

    def test_too_large(self) -> None:
        body = b"a: 1\n" + b"#" * (MAX_BYTES - 5) + b"\n"
        assert len(body) == MAX_BYTES + 1
        d = fails(body)
        assert "larger than 1 MiB" in d.message

    def test_exactly_one_mib_loads(self) -> None:
        body = b"a: 1\n" + b"#" * (MAX_BYTES - 6) + b"\n"
        assert len(body) == MAX_BYTES
        assert load(body).data == {"a": 1}

    def test_read_capped_reads_at_most_one_byte_past_the_limit(self, tmp_path: Path) -> None:
        stream = io.BytesIO(b"x" * (3 * MAX_BYTES))
        assert len(read_capped(stream)) == MAX_BYTES + 1
        big = tmp_path / "big.yaml"
        big.write_bytes(b"#" * (2 * MAX_BYTES))
        assert len(read_file(big)) == MAX_BYTES + 1

    def test_multiple_documents(self) -> None:
        d = fails("id: a\n---\nid: b\n")
        assert d.message.startswith("one workflow per file")
        assert (d.line, d.column) == (2, 1)

    def test_explicit_single_document_markers_are_fine(self) -> None:
        assert load("---\nid: a\n...\n").data == {"id": "a"}

    @pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000, 50_000])
    def test_deep_nesting(self, depth: int) -> None:
        d = fails("a: " + "[" * depth + "]" * depth + "\n")
        assert "nested" in d.message

    def test_nesting_within_the_limit_loads(self) -> None:
        depth = MAX_DEPTH - 1  # plus the root mapping: exactly MAX_DEPTH levels
        value = load("a: " + "[" * depth + "]" * depth + "\n").data["a"]
        levels = 0
        while value:
            value = value[0]
            levels += 1
        assert levels == depth - 1 and value == []

    def test_recursive_alias(self) -> None:
        d = fails("a: &x [*x]\n")
        assert "nested more than" in d.message

    def test_alias_bomb(self) -> None:
        lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
        for i in range(1, 9):
            refs = ", ".join([f"*a{i - 1}"] * 9)
            lines.append(f"a{i}: &a{i} [{refs}]")
        d = fails("\n".join(lines) + "\n")
        assert "more than 100000 values" in d.message


class TestSyntaxErrors:
    def test_unquoted_star_cron_gets_a_hint(self) -> None:
        d = fails("id: x\ntrigger:\n  cron: */5 * * * *   # every five minutes\n")
        assert d.message.startswith("invalid YAML: ")
        assert 'quote the cron expression, e.g. cron: "*/5 * * * *"' in d.message
        assert (d.line, d.column) == (3, 9)

    def test_unquoted_macro_gets_a_hint(self) -> None:
        d = fails("cron: @daily\n")
        assert 'quote the cron expression, e.g. cron: "@daily"' in d.message

    def test_tab_indentation(self) -> None:
        d = fails("a:\n\tb: 1\n")
        assert "indent with spaces, not tabs" in d.message
        assert (d.line, d.column) == (2, 1)

    def test_unclosed_flow_sequence_points_at_the_problem(self) -> None:
        d = fails("id: x\nsteps: [1, 2\n")
        assert "expected ',' or ']'" in d.message
        assert "started at line 2, column 8" in d.message
        assert d.line == 3

    def test_undefined_alias_gets_no_cron_hint(self) -> None:
        d = fails("a: *nope\n")
        assert "undefined alias" in d.message
        assert "quote" not in d.message


def test_format_path() -> None:
    assert format_path(("steps", 1, "http", "url")) == "steps[1].http.url"
    assert format_path(("trigger", "cron")) == "trigger.cron"
    assert format_path(("headers", "bad name")) == 'headers["bad name"]'
    assert format_path(()) is None
