"""Step runners without a store: output tails, ${env:NAME}, secrets, and /bin/sh attempts."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from clockwf.steps import (
    MissingVariable,
    OutputTail,
    Secrets,
    ShellRequest,
    StepControl,
    StepOutcome,
    group_alive,
    resolve_refs,
    run_shell,
)

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def shell(command: str, *, stdin: bytes = b"", timeout: float | None = None,
          cwd: str | None = None, control: StepControl | None = None,
          kill_grace: float = 5.0) -> StepOutcome:
    return run_shell(ShellRequest(command, ENV, cwd, stdin, timeout), control or StepControl(),
                     kill_grace=kill_grace)


# -- output tail -------------------------------------------------------------------------------

def test_tail_keeps_everything_under_the_limit() -> None:
    tail = OutputTail(10)
    tail.feed(b"abc\n")
    tail.feed(b"def")
    assert (tail.text(), tail.truncated, tail.total) == ("abc\ndef", False, 7)


def test_tail_keeps_the_last_bytes_and_says_so() -> None:
    tail = OutputTail(10)
    for i in range(100):
        tail.feed(f"{i}\n".encode())
    text = tail.text()
    assert text is not None
    header, _, kept = text.partition("\n")
    assert header == f"[clockwf: output truncated, the first {tail.total - len(kept)} bytes " \
                     "are not kept]"
    assert kept == "97\n98\n99\n"   # the cut-off first line is dropped


def test_tail_is_none_without_output_and_replaces_invalid_utf8() -> None:
    assert OutputTail(10).text() is None
    tail = OutputTail(100)
    tail.feed(b"caf\xc3\xa9 \xff")
    assert tail.text() == "café \ufffd"


def test_tail_streams_complete_lines() -> None:
    lines: list[str] = []
    tail = OutputTail(8, on_line=lines.append)
    tail.feed(b"one\r\ntw")
    tail.feed(b"o\nthree-is-long")
    assert lines == ["one", "two", "three-is-long"]   # a line longer than the limit is flushed
    tail.feed(b"end")
    tail.close()
    assert lines[-1] == "end"


def test_tail_masks_secrets_in_text_and_lines() -> None:
    secrets = Secrets()
    secrets.add("hunter22")
    secrets.add("abc")   # too short to mask
    lines: list[str] = []
    tail = OutputTail(100, on_line=lines.append, redact=secrets.redact)
    tail.feed(b"pw=hunter22 abc\n")
    assert tail.text() == "pw=*** abc\n"
    assert lines == ["pw=*** abc"]


# -- ${env:NAME} ---------------------------------------------------------------------------------

def test_resolve_refs() -> None:
    secrets = Secrets()
    got = resolve_refs("Bearer ${env:A}/${env:B}${env:A}", "x", {"A": "alpha", "B": "bb"},
                       secrets)
    assert got == "Bearer alpha/bbalpha"
    assert secrets.values == {"alpha"}
    assert resolve_refs("no refs", "x", {}, secrets) == "no refs"


def test_resolve_refs_missing_names_the_field() -> None:
    with pytest.raises(MissingVariable) as info:
        resolve_refs("Bearer ${env:HOOK_TOKEN}", "steps[1].http.headers.Authorization", {},
                     Secrets())
    assert info.value.message == ("environment variable HOOK_TOKEN is not set (referenced by "
                                  "steps[1].http.headers.Authorization)")


def test_an_empty_variable_is_set() -> None:
    assert resolve_refs("[${env:E}]", "x", {"E": ""}, Secrets()) == "[]"


# -- /bin/sh -----------------------------------------------------------------------------------

def test_shell_success_failure_and_signal() -> None:
    ok = shell("echo out; echo err >&2")
    assert (ok.status, ok.exit_code, ok.output, ok.error) == (
        "succeeded", 0, "out\nerr\n", None)
    bad = shell("exit 7")
    assert (bad.status, bad.exit_code, bad.error) == (
        "failed", 7, "exit code 7")
    killed = shell("kill -SEGV $$")
    assert (killed.status, killed.exit_code, killed.error) == (
        "failed", None, "the shell was killed by SIGSEGV")


def test_shell_gets_stdin_even_when_it_does_not_read_it() -> None:
    big = b"x" * 1_000_000   # far beyond a pipe buffer
    assert shell("wc -c", stdin=big).output.strip() == "1000000"
    # Blocked on a pipe nobody reads, the attempt would hit its (generous) timeout instead.
    assert shell("true", stdin=big, timeout=60).status == "succeeded"


def test_shell_missing_cwd(tmp_path: Path) -> None:
    missing = shell("true", cwd=str(tmp_path / "gone"))
    assert (missing.status, missing.error) == (
        "failed", f"working directory {tmp_path / 'gone'} does not exist")
    (tmp_path / "file").write_text("")
    not_dir = shell("true", cwd=str(tmp_path / "file"))
    assert not_dir.error == f"working directory {tmp_path / 'file'} is not a directory"


def test_leftover_processes_of_the_group_are_ended(tmp_path: Path) -> None:
    result = shell(f"(sleep 30; touch {tmp_path}/late) & echo $$ > {tmp_path}/pgid",
                   kill_grace=1)
    assert result.status == "succeeded"
    pgid = int((tmp_path / "pgid").read_text())
    assert not group_alive(pgid)


def test_timeout_and_control_end_the_attempt(tmp_path: Path) -> None:
    timed = shell(f"echo $$ > {tmp_path}/pgid; sleep 30", timeout=0.3)
    assert timed.status == "timed_out"
    assert timed.error == "timed out after 0.3s; its process group was killed"
    assert not group_alive(int((tmp_path / "pgid").read_text()))   # killed, not waited for

    # Cancel once the step has started (seen by its marker file), not after a guessed delay.
    control = StepControl()

    def cancel_when_started() -> None:
        deadline = time.monotonic() + 60
        while not (tmp_path / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        control.request("cancelled", "cancelled: by a test")

    threading.Thread(target=cancel_when_started, daemon=True).start()
    cancelled = shell(f"echo before; touch {tmp_path}/started; sleep 30", control=control)
    assert (cancelled.status, cancelled.error, cancelled.output) == (
        "cancelled", "cancelled: by a test", "before\n")
    assert not control.request("interrupted", "later")   # the first request wins


# -- the payload of a run step -----------------------------------------------------------------

def test_the_payload_file_is_private_and_removed_even_after_a_timeout(tmp_path: Path) -> None:
    from clockwf.steps import run_command

    seen = tmp_path / "seen"
    outcome = run_command(f'echo "$CLOCKWF_PAYLOAD_FILE" > {seen}; '
                          'stat -c %a "$CLOCKWF_PAYLOAD_FILE"; cat "$CLOCKWF_PAYLOAD_FILE"; '
                          'echo " env=$CLOCKWF_PAYLOAD"; sleep 30',
                          {**ENV, "CLOCKWF_PAYLOAD": "inherited", "CLOCKWF_PAYLOAD_FILE": "/x"},
                          None, b'{"a":1}', 1.0, StepControl(), kill_grace=0.5)
    assert outcome.status == "timed_out"
    assert outcome.output == '600\n{"a":1} env={"a":1}\n'
    path = seen.read_text().strip()
    assert path != "/x" and not os.path.exists(path)


def test_a_large_payload_is_not_in_the_environment() -> None:
    from clockwf.steps import PAYLOAD_ENV_LIMIT, run_command

    payload = b'"' + b"y" * (PAYLOAD_ENV_LIMIT - 1) + b'"'
    outcome = run_command('echo "${CLOCKWF_PAYLOAD-unset}"; wc -c < "$CLOCKWF_PAYLOAD_FILE"; '
                          "wc -c", {**ENV, "CLOCKWF_PAYLOAD": "inherited"}, None, payload,
                          None, StepControl())
    assert outcome.output == f"unset\n{len(payload)}\n{len(payload)}\n"
