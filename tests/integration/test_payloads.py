"""Payload size: one limit for every way a run starts, and how a step receives a large payload
(stdin and a private file; the environment only while small), on both stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clockwf import runs
from clockwf.errors import PayloadTooLarge
from clockwf.executor import Executor
from clockwf.launcher import PAYLOAD_LIMIT, launch, manual_run, run_payload
from clockwf.lifecycle import current_definition
from clockwf.steps import PAYLOAD_ENV_LIMIT
from clockwf.store import Store

from .executor_support import attempts, make_executor, publish_def, start
from .process_support import ROOT

EMPTY = len('{"d":""}')


def payload_of(size: int) -> dict[str, str]:
    """A payload whose compact JSON is exactly ``size`` bytes (ASCII)."""
    return {"d": "x" * (size - EMPTY)}


def payload_of_utf8(size: int) -> dict[str, str]:
    """Exactly ``size`` bytes with 2-byte characters (``size - EMPTY`` even)."""
    assert (size - EMPTY) % 2 == 0
    return {"d": "é" * ((size - EMPTY) // 2)}


@pytest.fixture
def executor(store: Store) -> Iterator[Executor]:
    ex = make_executor(store, environ={"PATH": os.environ["PATH"]})
    yield ex
    ex.stop(0)


RECEIVE = ('cat > "$OUT/stdin.json"; cp "$CLOCKWF_PAYLOAD_FILE" "$OUT/file.json"; '
           'stat -c %a "$CLOCKWF_PAYLOAD_FILE"; echo "$CLOCKWF_PAYLOAD_FILE" > "$OUT/path"; '
           'if [ -n "${CLOCKWF_PAYLOAD+set}" ]; then printf %s "$CLOCKWF_PAYLOAD" > "$OUT/env"; '
           'fi')


def receive(store: Store, executor: Executor, tmp_path: Path, payload: object) -> Path:
    out = tmp_path / f"out-{len(json.dumps(payload))}"
    out.mkdir()
    wid = publish_def(store, [{"run": RECEIVE, "env": {"OUT": str(out)}}])
    run_id = start(store, wid, payload)
    assert executor.execute(run_id) == "succeeded", attempts(store, run_id)
    assert attempts(store, run_id)[0]["output"] == "600\n"    # the file is private
    assert not os.path.exists((out / "path").read_text().strip())   # and removed after
    return out


def test_a_100_kib_payload_arrives_on_stdin_and_in_the_file(
        store: Store, executor: Executor, tmp_path: Path) -> None:
    payload = payload_of(100 * 1024)
    out = receive(store, executor, tmp_path, payload)
    stored = json.dumps(payload, separators=(",", ":"))
    assert (out / "stdin.json").read_text() == stored
    assert (out / "file.json").read_text() == stored
    assert not (out / "env").exists()      # too large for the environment


@pytest.mark.parametrize("size", [PAYLOAD_ENV_LIMIT, PAYLOAD_ENV_LIMIT + 1])
def test_clockwf_payload_is_set_only_while_small(store: Store, executor: Executor,
                                                 tmp_path: Path, size: int) -> None:
    payload = payload_of(size)
    out = receive(store, executor, tmp_path, payload)
    assert (out / "env").exists() == (size <= PAYLOAD_ENV_LIMIT)
    if size <= PAYLOAD_ENV_LIMIT:
        assert (out / "env").read_text() == json.dumps(payload, separators=(",", ":"))
    assert len((out / "file.json").read_bytes()) == size


def no_runs(store: Store) -> bool:
    with store.read() as tx:
        return tx.list_runs(limit=5) == []


@pytest.mark.parametrize("make", [payload_of, payload_of_utf8])
def test_the_limit_is_exact_and_counts_bytes(store: Store, make: Callable[[int], object]) -> None:
    wid = publish_def(store, [{"run": "true"}])
    now = datetime.now(UTC)
    with pytest.raises(PayloadTooLarge, match="262,146 bytes as compact JSON, over the limit "
                                               "of 256 KiB"):
        runs.start_manual(store, wid, now, payload=make(PAYLOAD_LIMIT + 2))
    with pytest.raises(PayloadTooLarge):
        runs.emit(store, "nobody.listens", now, payload=make(PAYLOAD_LIMIT + 2))
    assert no_runs(store)
    assert runs.start_manual(store, wid, now, payload=make(PAYLOAD_LIMIT)).run_id is not None


def test_launch_refuses_for_every_entry_point(store: Store) -> None:
    """A run built by any caller (a web API, a tick) is held to the limit by launch()."""
    wid = publish_def(store, [{"run": "true"}])
    now = datetime.now(UTC)
    with store.read() as tx:
        _w, version, definition = current_definition(tx, wid)
    run = manual_run(wid, version, definition, payload=None, key="k", now=now)
    big = run._replace(payload=json.dumps(payload_of(PAYLOAD_LIMIT + 1)))
    with pytest.raises(PayloadTooLarge), store.transaction() as tx:
        launch(tx, [run, big])
    assert no_runs(store)     # the transaction is rolled back: not even the small run


def test_an_event_payload_over_the_limit_starts_nothing(store: Store) -> None:
    publish_def(store, [{"run": "true"}], trigger={"type": "event", "event": "big.one"})
    with pytest.raises(PayloadTooLarge):
        runs.emit(store, "big.one", datetime.now(UTC), payload=payload_of(PAYLOAD_LIMIT + 1))
    assert no_runs(store)


# -- the command line -------------------------------------------------------------------------

def cli(store_url: str, namespace: str, cwd: Path, *args: str,
        stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOCKWF_")}
    env.update(PYTHONPATH=str(ROOT), CLOCKWF_DB=store_url, CLOCKWF_NAMESPACE=namespace)
    proc = subprocess.run([sys.executable, "-m", "clockwf", *args], env=env, cwd=cwd,
                          input=stdin, capture_output=True, timeout=120, check=False)
    return subprocess.CompletedProcess(proc.args, proc.returncode,
                                       proc.stdout.decode(), proc.stderr.decode())


def test_run_and_emit_take_a_file_or_stdin_and_refuse_over_the_limit(
        store: Store, store_url: str, namespace: str, tmp_path: Path) -> None:
    manual = publish_def(store, [{"run": "true"}])
    publish_def(store, [{"run": "true"}], trigger={"type": "event", "event": "big.one"})
    ok = payload_of(100 * 1024)
    (tmp_path / "ok.json").write_text(json.dumps(ok, indent=2))
    too_big = json.dumps(payload_of(PAYLOAD_LIMIT + 1))
    (tmp_path / "big.json").write_text(too_big)

    started = cli(store_url, namespace, tmp_path, "run", manual, "--payload", "@ok.json",
                  "--format", "json")
    assert started.returncode == 0, started.stderr
    emitted = cli(store_url, namespace, tmp_path, "emit", "big.one", "--payload", "-",
                  "--format", "json", stdin=json.dumps(ok).encode())
    assert emitted.returncode == 0, emitted.stderr
    with store.read() as tx:
        stored = [json.loads(run_payload(r)) for r in tx.list_runs(limit=5)]
    assert stored == [ok, ok]

    for args, stdin, source in (
            (["run", manual, "--payload", "@big.json"], None, "--payload @big.json"),
            (["emit", "big.one", "--payload", "-"], too_big.encode(), "--payload -"),
            (["run", manual, "--payload", too_big[:100_000]], None, "--payload"),
    ):
        refused = cli(store_url, namespace, tmp_path, *args, stdin=stdin)
        assert refused.returncode == 1
        if source != "--payload":
            assert refused.stderr.strip() == (
                f"error: the payload of {source} is {PAYLOAD_LIMIT + 1:,} bytes as compact "
                f"JSON, over the limit of 256 KiB ({PAYLOAD_LIMIT:,} bytes): pass large data "
                "by reference (a path or a URL) instead; nothing was started")
        else:   # cut short: not JSON
            assert refused.stderr.startswith("error: --payload is not valid JSON")
    with store.read() as tx:
        assert len(tx.list_runs(limit=5)) == 2

    missing = cli(store_url, namespace, tmp_path, "run", manual, "--payload", "@nope.json")
    assert (missing.returncode, missing.stderr.strip()) == (
        1, "error: --payload @nope.json: cannot read nope.json: No such file or directory")
