"""Prometheus metrics (the official prometheus-client library).

Two kinds, kept apart on purpose:

- state, read from the store at each scrape (:class:`StoreCollector`): every daemon sharing a
  database reports the same values, and each workflow's series exist from its publish;
- what this process did (counters and histograms below), counted by the process that did it.

No run id or fire key is ever a label.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from clockwf.errors import ClockwfError
from clockwf.notify.outbox import q_all, q_one
from clockwf.store.base import Store

disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created: noise per label
PROCESS = CollectorRegistry(auto_describe=True)
FIRES = Counter("clockwf_fires", "Occurrences launched by this process's ticks.",
                registry=PROCESS)
RUN_STATUSES = ("succeeded", "failed", "timed_out", "cancelled", "interrupted")
RUNS_FINISHED = Counter("clockwf_runs_finished", "Runs this process brought to a final "
                        "status, by status.", ["status"], registry=PROCESS)
SKIP_REASONS = ("coalesced", "outside_window", "missed", "paused", "overlap", "dst_skip")
NOT_LAUNCHED = Counter("clockwf_occurrences_not_launched", "Occurrences this process's ticks "
                       "did not launch, by reason.", ["reason"], registry=PROCESS)
RUN_DURATION = Histogram("clockwf_run_duration_seconds", "Duration of runs finished by this "
                         "process.", buckets=(1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 21600,
                                              86400), registry=PROCESS)
LAUNCH_LAG = Histogram("clockwf_launch_lag_seconds", "From an occurrence's due instant to its "
                       "launch, for this process's ticks.",
                       buckets=(0.005, 0.05, 0.25, 1, 5, 30, 60, 300, 3600, 86400),
                       registry=PROCESS)
TICK_DURATION = Histogram("clockwf_tick_duration_seconds", "Duration of this process's ticks.",
                          buckets=(0.0005, 0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 30),
                          registry=PROCESS)
for _status in RUN_STATUSES:
    RUNS_FINISHED.labels(_status)
for _reason in SKIP_REASONS:
    NOT_LAUNCHED.labels(_reason)


def _ts(value: datetime | None) -> float:
    return 0.0 if value is None else value.timestamp()


def _label(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def _num(value: float) -> str:
    return repr(float(value))


WORKFLOW_GAUGES = (
    ("clockwf_workflow_last_success_timestamp_seconds",
     "End of the workflow's last successful run (0: never)."),
    ("clockwf_workflow_next_fire_timestamp_seconds",
     "When the workflow's trigger fires next (0: not scheduled)."),
    ("clockwf_workflow_consecutive_failures", "Failed runs since the last success."),
    ("clockwf_workflow_paused", "1 when the workflow is paused."),
    ("clockwf_workflow_overdue_seconds",
     "How far past its expectation the workflow is: a due fire not launched, or no success "
     "within expect.success_within."),
)


def store_exposition(store: Store, now: datetime | None = None) -> str:
    """The store's state in the text exposition format (version 0.0.4).

    The per-workflow gauges are five series per workflow: written here line by line (tens of
    thousands of series cost the library's per-sample machinery seconds); the rest go through
    prometheus-client's own collectors and renderer."""
    now = now or datetime.now(UTC)
    with store.read() as tx:
        workflows = q_all(tx, "alerts_metrics_workflows")
        daemons = tx.list_daemons()
        counts = tx.run_status_counts()
        deliveries = q_one(tx, "alerts_delivery_counts") or {}
    ns = _label(store.ns)
    columns: list[list[str]] = [[] for _ in WORKFLOW_GAUGES]
    last, nxt, streak, paused, overdue = columns
    for w in workflows:
        key = f'{{namespace="{ns}",workflow="{_label(str(w["workflow_id"]))}"}} '
        last.append(key + _num(_ts(w["last_success_at"])))
        scheduled = w["schedule_status"] == "scheduled"
        nxt.append(key + _num(_ts(w["next_fire_at"]) if scheduled else 0.0))
        streak.append(key + _num(w["consecutive_failures"] or 0))
        paused.append(key + ("1.0" if w["paused"] else "0.0"))
        late = 0.0
        if scheduled and w["next_fire_at"] is not None:
            late = max(late, (now - w["next_fire_at"]).total_seconds())
        if w["success_within_s"] and not w["paused"]:
            since = w["last_success_at"] or w["first_published_at"]
            if since is not None:
                late = max(late, (now - since).total_seconds() - float(w["success_within_s"]))
        overdue.append(key + _num(late))
    parts: list[str] = []
    for (name, help_), lines in zip(WORKFLOW_GAUGES, columns, strict=True):
        parts.append(f"# HELP {name} {help_}\n# TYPE {name} gauge\n")
        parts.extend(f"{name}{line}\n" for line in lines)
    rest = CollectorRegistry(auto_describe=False)
    rest.register(_Families(_store_families(store.ns, daemons, counts, deliveries)))
    parts.append(generate_latest(rest).decode())
    return "".join(parts)


def _store_families(ns: str, daemons: list[Any], counts: dict[str, int],
                    deliveries: dict[str, Any]) -> list[Metric]:
    runs = GaugeMetricFamily("clockwf_runs", "Unfinished runs, by status.",
                             labels=["namespace", "status"])
    for status in ("queued", "running"):
        runs.add_metric([ns, status], float(counts.get(status, 0)))
    ticks = GaugeMetricFamily("clockwf_daemon_last_tick_timestamp_seconds",
                              "Last tick of each live daemon.", labels=["namespace", "instance"])
    for d in daemons:
        if d.get("stopped_at") is None and d.get("last_tick_at") is not None:
            ticks.add_metric([ns, str(d["instance_id"])], _ts(d["last_tick_at"]))
    return [runs, ticks,
            GaugeMetricFamily("clockwf_notifications_pending", "Deliveries not made yet.",
                              value=float(deliveries.get("pending") or 0)),
            GaugeMetricFamily("clockwf_notifications_failed", "Deliveries that failed after "
                              "their retries, to targets with no success since.",
                              value=float(deliveries.get("failed") or 0))]


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families

    def describe(self) -> list[Metric]:
        return []


def exposition(store: Store, now: datetime | None = None) -> bytes:
    """Everything ``/metrics`` shows: the store's state, then this process's counters."""
    return (store_exposition(store, now) + generate_latest(PROCESS).decode()).encode()


def observe_run(run: dict[str, Any]) -> None:
    status = str(run["status"])
    RUNS_FINISHED.labels(status).inc()
    started, finished = run.get("started_at"), run.get("finished_at")
    if started is not None and finished is not None:
        RUN_DURATION.observe(max((finished - started).total_seconds(), 0.0))


def serve(store: Store, address: str) -> ThreadingHTTPServer:
    """Serve ``/metrics`` on ``host:port`` in a background thread; returns the server (its
    ``shutdown()`` stops it)."""
    host, _, port = address.rpartition(":")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] not in ("/metrics", "/"):
                self.send_error(404)
                return
            try:
                body = exposition(store)
                code = 200
            except ClockwfError as exc:   # a store outage: say so, keep serving
                body, code = f"clockwf: cannot read the store: {exc.message}\n".encode(), 503
            self.send_response(code)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host.strip("[]") or "127.0.0.1", int(port)), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="clockwf-metrics", daemon=True).start()
    return server
