"""What a ``run`` step sees of the daemon: the environment cron and systemd give a job, its run's
variables and what it declares; the daemon's secrets only when asked for, and then masked."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clockwf.executor import Executor
from clockwf.steps.env import DEFAULT_PATH, base_environment
from clockwf.store import Store

from .executor_support import attempts, make_executor, publish_def, start
from .process_support import ROOT

PG_SECRET = "pg-pass-7d1e2f3a"
DB_SECRET = "db-pass-4b5c6d7e"
DAEMON_ENV = {
    "PATH": os.environ.get("PATH", DEFAULT_PATH), "HOME": "/home/ops", "LANG": "C.UTF-8",
    "LC_TIME": "en_GB.UTF-8", "TZ": "Europe/Paris", "USER": "ops", "LOGNAME": "ops",
    "SHELL": "/bin/bash", "PGPASSWORD": PG_SECRET, "PGUSER": "clockwf",
    "CLOCKWF_DB": f"postgresql://clockwf:{DB_SECRET}@db.internal/clockwf",
    "NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1",
    "CLOCKWF_PAYLOAD": "stale", "AWS_SECRET_ACCESS_KEY": "aws-0123456789", "OTHER": "x",
}
PASSED = {"PATH", "HOME", "LANG", "LC_TIME", "TZ", "USER", "LOGNAME", "SHELL"}
RUN_VARS = {"CLOCKWF_RUN_ID", "CLOCKWF_FIRE_KEY", "CLOCKWF_SCHEDULED_FOR", "CLOCKWF_WORKFLOW_ID",
            "CLOCKWF_WORKFLOW_VERSION", "CLOCKWF_TRIGGER_TYPE", "CLOCKWF_STEP_ID",
            "CLOCKWF_ATTEMPT", "CLOCKWF_PAYLOAD", "CLOCKWF_PAYLOAD_FILE"}
SHELL_OWN = {"PWD", "OLDPWD", "SHLVL", "_"}   # set by /bin/sh itself
# prints NAME=VALUE lines (values without newlines) of the whole environment, sorted
PRINT_ENV = "env -0 | tr '\\n\\0' ' \\n' | sort"


@pytest.fixture
def executor(store: Store) -> Iterator[Executor]:
    ex = make_executor(store, environ=DAEMON_ENV)
    yield ex
    ex.stop(0)


def run_env(store: Store, executor: Executor, wid: str) -> dict[str, str]:
    run_id = start(store, wid, {"n": 1})
    assert executor.execute(run_id) == "succeeded"
    [attempt] = attempts(store, run_id)
    pairs = (line.split("=", 1) for line in attempt["output"].splitlines() if "=" in line)
    return {name: value for name, value in pairs if name not in SHELL_OWN}


def test_a_step_gets_only_the_documented_environment(store: Store, executor: Executor) -> None:
    env = run_env(store, executor, publish_def(store, [{"run": PRINT_ENV,
                                                        "env": {"REPORT_DIR": "/srv"}}]))
    assert set(env) == PASSED | RUN_VARS | {"REPORT_DIR"}
    for name in PASSED:
        assert env[name] == DAEMON_ENV[name]
    assert env["REPORT_DIR"] == "/srv"
    assert env["CLOCKWF_PAYLOAD"] == '{"n":1}'     # the run's, not the daemon's stale one
    for text in env.values():
        assert PG_SECRET not in text and DB_SECRET not in text


def test_env_refs_pass_a_variable_on_purpose_and_mask_it(
        store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="clockwf")
    streamed: list[str] = []
    executor = make_executor(store, environ=DAEMON_ENV, on_output=streamed.append)
    wid = publish_def(store, [{"run": PRINT_ENV + "; echo \"raw=$DB_PASS\"",
                               "env": {"DB_PASS": "${env:PGPASSWORD}"}},
                              {"run": "echo \"failing with $DB_PASS\" >&2; exit 3",
                               "env": {"DB_PASS": "${env:PGPASSWORD}"}}])
    run_id = start(store, wid)
    try:
        assert executor.execute(run_id) == "failed"
    finally:
        executor.stop(0)
    assert "raw=***" in streamed and "failing with ***" in streamed
    for record in caplog.records:
        assert PG_SECRET not in record.getMessage() and PG_SECRET not in str(record.__dict__)
    for row in attempts(store, run_id):
        assert PG_SECRET not in json.dumps(row, default=str)
    attempt, second = attempts(store, run_id)
    assert second["output"] == "failing with ***\n"
    assert "DB_PASS=***" in attempt["output"].splitlines()
    assert "raw=***" in attempt["output"].splitlines()
    assert PG_SECRET not in attempt["output"]
    assert "PGPASSWORD" not in attempt["output"]   # only the variable asked for
    assert DB_SECRET not in attempt["output"]


@pytest.mark.parametrize("where", ["workflow", "step"])
def test_inherit_env_restores_the_daemon_environment(store: Store, executor: Executor,
                                                     where: str) -> None:
    step: dict[str, object] = {"run": PRINT_ENV, "env": {"MINE": "${env:PGPASSWORD}"}}
    extra: dict[str, object] = {}
    if where == "step":
        step["inherit_env"] = True
    else:
        extra["inherit_env"] = True
    env = run_env(store, executor, publish_def(store, [step], **extra))
    assert set(env) == set(DAEMON_ENV) | RUN_VARS | {"MINE"}
    assert env["OTHER"] == "x" and env["NOTIFY_SOCKET"] == "/run/systemd/notify"
    assert env["CLOCKWF_DB"] == DAEMON_ENV["CLOCKWF_DB"]   # asked for: present
    # the value also came through ${env:}: masked wherever it appears
    assert env["MINE"] == "***" and env["PGPASSWORD"] == "***"
    assert env["CLOCKWF_PAYLOAD"] == "{\"n\":1}"   # the run's, never the daemon's


def test_a_step_can_refuse_what_its_workflow_inherits(store: Store, executor: Executor) -> None:
    wid = publish_def(store, [{"run": PRINT_ENV, "inherit_env": False}], inherit_env=True)
    env = run_env(store, executor, wid)
    assert set(env) == PASSED | RUN_VARS


def test_path_has_a_default(store: Store) -> None:
    ex = make_executor(store, environ={"PGPASSWORD": PG_SECRET})
    try:
        env = run_env(store, ex, publish_def(store, [{"run": PRINT_ENV}]))
    finally:
        ex.stop(0)
    assert set(env) == {"PATH"} | RUN_VARS
    assert env["PATH"] == DEFAULT_PATH


def test_inherit_env_is_refused_on_an_http_step() -> None:
    from datetime import UTC, datetime

    from clockwf.validate import validate_source

    report = validate_source(
        "id: x\nsteps:\n  - http: {url: 'https://example.com/'}\n    inherit_env: true\n",
        "x.yaml", datetime.now(UTC))
    assert [(d.line, d.field, d.message) for d in report.errors] == \
        [(4, "steps[0].inherit_env", "inherit_env applies to run steps only")]


NAMES = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,12}\Z")


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(NAMES, st.text(max_size=8)))
def test_the_base_environment_keeps_only_the_documented_names(environ: dict[str, str]) -> None:
    env = base_environment(environ)
    for name, value in env.items():
        assert name in PASSED or name.startswith("LC_") or name == "PATH"
        assert value == environ.get(name, DEFAULT_PATH if name == "PATH" else None)
    for name in environ:
        if name in PASSED or name.startswith("LC_") or name in ("LANG", "TZ"):
            assert name in env
    assert "PATH" in env


def _with_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "postgresql":
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username or 'postgres'}:{DB_SECRET}@{host}").geturl()


def test_a_daemon_does_not_hand_its_secrets_to_steps(
        store_url: str, namespace: str, tmp_path: Path,
        open_stores: Callable[..., Store]) -> None:
    """The real daemon, started with PGPASSWORD and a store URL holding a password (the test
    server trusts any password), runs ``env``: neither secret is in the stored output or the
    daemon's log."""
    url = _with_password(store_url)
    (tmp_path / "env-dump.yaml").write_text(json.dumps({"id": "env-dump", "steps": [
        {"id": "dump", "run": PRINT_ENV},
        {"id": "asked", "run": "echo \"asked=$PASS\"", "env": {"PASS": "${env:PGPASSWORD}"}},
    ]}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOCKWF_", "PG"))}
    env.update(PYTHONPATH=str(ROOT), CLOCKWF_DB=url, CLOCKWF_NAMESPACE=namespace,
               PGPASSWORD=PG_SECRET)

    def clockwf(*args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "clockwf", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        return proc

    clockwf("publish", "env-dump.yaml")
    clockwf("run", "env-dump")
    daemon = clockwf("daemon", "--exit-when-idle", "--log-level", "debug")
    store = open_stores()
    with store.read() as tx:
        [run] = tx.list_runs(limit=5)
        steps = tx.list_step_attempts(int(run["run_id"]))
    assert [s["status"] for s in steps] == ["succeeded", "succeeded"]
    dumped = steps[0]["output"]
    assert "HOME=" in dumped and "CLOCKWF_RUN_ID=" in dumped
    assert "PGPASSWORD" not in dumped and "CLOCKWF_DB" not in dumped
    assert steps[1]["output"] == "asked=***\n"
    for text in (dumped, steps[1]["output"], daemon.stdout, daemon.stderr):
        assert PG_SECRET not in text and DB_SECRET not in text
