"""The daemon as a real process: a kill -9 between the state change and its delivery loses no
notification (the next daemon delivers it, with the same id), ``--exit-when-idle`` delivers
what is pending, and the metrics it serves come from the store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .executor_support import wait_for
from .notify_support import Receiver

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def cli(store_url: str, namespace: str, *args: str,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clockwf", *args, "--db", store_url,
                           "--namespace", namespace], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env={**os.environ, **(env or {})})


def daemon(store_url: str, namespace: str, *args: str,
           env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "clockwf", "daemon", "--db", store_url,
                             "--namespace", namespace, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                            env={**os.environ, **(env or {})})


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_kill9_before_delivery_loses_nothing(store_url: str, namespace: str,
                                             receiver: Receiver, tmp_path: Path) -> None:
    definition = tmp_path / "wf.yaml"
    definition.write_text(f"id: doomed\nnotify:\n  to:\n    - webhook: {{url: \"{receiver.url}\", "
                          "timeout: 30s}\nsteps:\n  - run: exit 1\n")
    assert cli(store_url, namespace, "publish", str(definition)).returncode == 0
    receiver.mode = "hang"
    assert cli(store_url, namespace, "run", "doomed").returncode == 0
    # A short claim lease: once it ends, the delivery the dead daemon held is due again.
    first = daemon(store_url, namespace, env={"CLOCKWF_NOTIFY_LEASE": "2"})
    try:
        got = receiver.wait(1, timeout=60)   # the run failed, and the delivery is in flight
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    receiver.mode = "ok"
    second = daemon(store_url, namespace, "--exit-when-idle")
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 0, out
    got = receiver.wait(2)
    assert got[0]["headers"]["Idempotency-Key"] == got[1]["headers"]["Idempotency-Key"]
    assert got[1]["body"]["event"] == "failed"
    listed = cli(store_url, namespace, "notifications", "--format", "json")
    items = json.loads(listed.stdout)["notifications"]
    assert [(i["event"], i["status"]) for i in items] == [("failed", "delivered")]
    shown = json.loads(cli(store_url, namespace, "notifications", items[0]["id"],
                           "--format", "json").stdout)
    assert shown["deliveries"][0]["attempts"] == 2 and shown["deliveries"][0]["status"] == \
        "delivered"


def test_metrics_from_the_store_and_served(store_url: str, namespace: str,
                                           tmp_path: Path) -> None:
    for wid in ("alpha", "beta"):
        (tmp_path / f"{wid}.yaml").write_text(
            f"id: {wid}\ntrigger: {{type: recurring, cron: '0 3 * * *'}}\n"
            "steps:\n  - run: 'true'\n")
    assert cli(store_url, namespace, "publish", str(tmp_path / "alpha.yaml"),
               str(tmp_path / "beta.yaml")).returncode == 0
    now = "2030-01-01T00:00:00Z"
    one = samples(cli(store_url, namespace, "metrics", "--now", now).stdout)
    two = samples(cli(store_url, namespace, "metrics", "--now", now).stdout)
    state = {k: v for k, v in one.items() if k[0].startswith(("clockwf_workflow",
                                                             "clockwf_runs",
                                                             "clockwf_notifications"))}
    assert state == {k: v for k, v in two.items() if k in state}   # same store, same values
    for wid in ("alpha", "beta"):
        labels = (("namespace", namespace), ("workflow", wid))
        assert one[("clockwf_workflow_consecutive_failures", labels)] == 0
        assert one[("clockwf_workflow_last_success_timestamp_seconds", labels)] == 0
        assert one[("clockwf_workflow_next_fire_timestamp_seconds", labels)] > 0
    assert not any("run_id" in dict(k[1]) or "fire_key" in dict(k[1]) for k in one)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = daemon(store_url, namespace, "--metrics-listen", f"127.0.0.1:{port}")
    try:
        def scrape() -> str | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    return str(r.read().decode())
            except OSError:
                return None

        text = wait_for("the metrics endpoint", scrape, timeout=60, interval=0.2)
        served = samples(text)
        assert ("clockwf_workflow_paused", (("namespace", namespace), ("workflow", "alpha"))) \
            in served
        assert any(k[0] == "clockwf_tick_duration_seconds_count" for k in served)
    finally:
        proc.terminate()
        proc.wait(30)


def test_notify_commands(store_url: str, namespace: str, receiver: Receiver,
                         tmp_path: Path) -> None:
    example = ROOT / "examples" / "notify" / "defaults.yaml"
    checked = cli(store_url, namespace, "notify", "publish", str(example), "--dry-run")
    assert checked.returncode == 0 and "valid (1 target(s))" in checked.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("notify:\n  to:\n    - webhook: {url: 'https://h/x'}\n      command: x\n")
    refused = cli(store_url, namespace, "notify", "publish", str(bad))
    assert refused.returncode == 1
    assert f"{bad}:3:7: notify.to[0]: a notify target has exactly one of" in refused.stderr
    defaults = tmp_path / "defaults.yaml"
    defaults.write_text(f"notify:\n  to:\n    - webhook: {{url: \"{receiver.url}\"}}\n")
    published = cli(store_url, namespace, "notify", "publish", str(defaults))
    assert published.returncode == 0 and "published" in published.stdout
    again = cli(store_url, namespace, "notify", "publish", str(defaults))
    assert "unchanged" in again.stdout
    shown = json.loads(cli(store_url, namespace, "notify", "show", "--format", "json").stdout)
    assert shown["defaults"]["to"] == [{"webhook": {"url": receiver.url, "headers": {},
                                                    "timeout": "10s"}}]
    (tmp_path / "wf.yaml").write_text("id: quiet\nsteps:\n  - run: 'true'\n")
    assert cli(store_url, namespace, "publish", str(tmp_path / "wf.yaml")).returncode == 0
    sent = cli(store_url, namespace, "notify", "test", "quiet", "--format", "json")
    assert sent.returncode == 0, sent.stderr
    doc = json.loads(sent.stdout)
    assert doc["deliveries"] == [{"target": f"webhook {receiver.url}", "ok": True,
                                  "detail": "HTTP 200"}]
    got = receiver.wait(1)[0]
    assert got["body"]["event"] == "test" and got["headers"]["Idempotency-Key"] == doc["id"]
    receiver.mode = "fail"
    failed = cli(store_url, namespace, "notify", "test", "quiet", "--now",
                 "2030-01-01T00:00:00Z")
    assert failed.returncode == 1 and "FAILED" in failed.stdout
    status = cli(store_url, namespace, "status", "--stale-after", "3650d")
    assert status.returncode == 1
    assert f"notifications to webhook {receiver.url} are failing: HTTP 500" in status.stderr
    missing = cli(store_url, namespace, "notify", "test", "nope")
    assert missing.returncode == 1 and "no workflow 'nope'" in missing.stderr
