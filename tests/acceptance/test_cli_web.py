"""`clockwf token` and `clockwf serve` as commands: a token is shown once and stored as a hash;
serve refuses an exposed address without tokens, and --no-auth off loopback; a real serve
process answers and stops on SIGTERM."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .cli_support import ROOT, Clockwf


def test_a_token_is_shown_once_and_only_its_hash_is_stored(clockwf: Clockwf,
                                                           tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    made = clockwf("token", "create", "ci", "--scope", "operate", "--db", db, "--format", "json")
    assert made.code == 0, made.err
    token = made.json()["token"]
    assert token.startswith("cwf_") and len(token) > 40
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT name, scope, token_hash FROM api_tokens").fetchall()
    assert rows == [("ci", "operate", hashlib.sha256(token.encode()).hexdigest())]
    listed = clockwf("token", "list", "--db", db, "--format", "json")
    assert [(t["name"], t["scope"]) for t in listed.json()["tokens"]] == [("ci", "operate")]
    assert token not in listed.out and rows[0][2] not in listed.out
    again = clockwf("token", "create", "ci", "--db", db)
    assert again.code == 1 and "has a token named 'ci' already" in again.err
    bad = clockwf("token", "create", "x", "--scope", "root", "--db", db)
    assert bad.code == 1 and "read, operate, admin" in bad.err
    assert clockwf("token", "revoke", "ci", "--db", db).code == 0
    assert clockwf("token", "list", "--db", db, "--format", "json").json() == {"tokens": []}
    gone = clockwf("token", "revoke", "ci", "--db", db)
    assert gone.code == 1 and "no token named 'ci'" in gone.err
    other = clockwf("token", "list", "--db", db, "--namespace", "team-b", "--format", "json")
    assert other.json() == {"tokens": []}


def test_serve_refuses_an_exposed_address_without_a_token(clockwf: Clockwf,
                                                          tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    refused = clockwf("serve", "--listen", "0.0.0.0:1", "--db", db)
    assert refused.code == 1 and "not a loopback address" in refused.err
    assert "clockwf token create" in refused.err
    no_auth = clockwf("serve", "--listen", "192.0.2.1:8080", "--no-auth", "--db", db)
    assert no_auth.code == 1 and "--no-auth is accepted on a loopback address only" in \
        no_auth.err
    malformed = clockwf("serve", "--listen", "localhost", "--db", db)
    assert malformed.code == 1 and "HOST:PORT" in malformed.err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_and_stops_on_sigterm(clockwf: Clockwf, tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    token = clockwf("token", "create", "r", "--db", db, "--format", "json").json()["token"]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOCKWF_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "clockwf", "serve", "--listen",
                             f"127.0.0.1:{port}", "--db", db], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/workflows",
                                   headers={"Authorization": f"Bearer {token}"}, timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.05)
        assert answer.status_code == 200 and answer.json() == {"workflows": []}
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/workflows").status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"http://127.0.0.1:{port}/" in out and token not in out + err
