"""Helpers for scheduling tests: publish a definition text, drive ticks, read back runs."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from clockwf import lifecycle
from clockwf.scheduler import TickReport, tick
from clockwf.store import Store
from clockwf.validate import validate_source


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def definition(wid: str, trigger: str, *, policy: str = "", steps: str | None = None) -> str:
    """A definition file's text; ``trigger`` and ``policy`` are YAML blocks (unindented)."""
    body = f"id: {wid}\n"
    body += "trigger:\n" + textwrap.indent(textwrap.dedent(trigger).strip(), "  ") + "\n"
    if policy:
        body += "policy:\n" + textwrap.indent(textwrap.dedent(policy).strip(), "  ") + "\n"
    body += steps or "steps:\n  - run: 'true'\n"
    return body


def poll_until(predicate: Callable[[], bool], timeout: float) -> bool:
    """Poll ``predicate`` until it is true (True) or ``timeout`` seconds pass (False): a wait
    for something another thread or process does, with a generous deadline, never a sleep that
    assumes it happened."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def publish_text(store: Store, text: str, now: datetime | str) -> list[lifecycle.Published]:
    at = utc(now) if isinstance(now, str) else now
    report = validate_source(text, "test.yaml", at, for_publish=True)
    assert report.ok, [str(e) for e in report.errors]
    return lifecycle.publish(store, [report], at)


def drive(store: Store, start: datetime, end: datetime, *,
          step: timedelta | None = None) -> list[TickReport]:
    """Tick from ``start`` to ``end``: at every due instant (event-driven, like the daemon) or,
    with ``step``, at fixed steps (like a polling daemon)."""
    reports = []
    t = start
    guard = 0
    while t <= end:
        guard += 1
        assert guard < 100_000
        reports.append(tick(store, t))
        if step is not None:
            t += step
            continue
        with store.read() as tx:
            nxt = tx.earliest_due()
        if nxt is None:
            break
        t = max(nxt, t + timedelta(microseconds=1))
    return reports


def fire_keys(store: Store, workflow_id: str | None = None) -> list[str]:
    with store.read() as tx:
        rows = tx.list_runs(workflow_id=workflow_id, limit=1_000_000)
    return sorted(r["fire_key"] for r in rows)


def runs_of(store: Store, workflow_id: str | None = None) -> list[dict[str, Any]]:
    with store.read() as tx:
        return sorted(tx.list_runs(workflow_id=workflow_id, limit=1_000_000),
                      key=lambda r: r["run_id"])


def keys(wid: str, *instants: str, kind: str = "recurring") -> list[str]:
    return sorted(f"{kind}:{wid}:{i}" for i in instants)


def skips(store: Store, workflow_id: str) -> list[dict[str, Any]]:
    with store.read() as tx:
        return tx.skips_between(workflow_id, utc("1970-01-01T00:00:00Z"),
                                utc("9999-01-01T00:00:00Z"))


def flatten(reports: Iterable[TickReport]) -> TickReport:
    total = TickReport(utc("1970-01-01T00:00:00Z"))
    for r in reports:
        total.merge(r)
    return total
