"""What a daemon runs for alerts beside its tick: delivery, metrics. One object, so that the
daemon's loop needs only a few calls (start, ticked, idle, stop)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from clockwf.errors import InvalidInput
from clockwf.notify import metrics
from clockwf.notify.deliver import Deliverer, next_due
from clockwf.store.base import Store
from clockwf.timeutil import parse_instant

log = logging.getLogger("clockwf.notify")

DRAIN_LIMIT_S = 600.0     # --exit-when-idle waits at most this long for pending deliveries


class AlertsService:
    def __init__(self, store: Store, owner: str, now: Callable[[], datetime], *,
                 metrics_listen: str | None = None) -> None:
        self.store = store
        self.deliverer = Deliverer(store, owner, now)
        self.metrics_listen = metrics_listen
        self._server: Any = None

    def start(self) -> None:
        if self.metrics_listen:
            try:
                self._server = metrics.serve(self.store, self.metrics_listen)
            except (OSError, ValueError) as exc:
                raise InvalidInput(f"--metrics-listen {self.metrics_listen}: cannot listen: "
                                   f"{getattr(exc, 'strerror', None) or exc}") from None
            log.info("serving metrics on http://%s/metrics", self.metrics_listen,
                     extra={"action": "metrics.listening", "address": self.metrics_listen})
        self.deliverer.start()

    def ticked(self, report: Any, seconds: float) -> None:
        metrics.TICK_DURATION.observe(seconds)
        if report.launched:
            metrics.FIRES.inc(len(report.launched))
            for entry in report.launched:
                due = parse_instant(entry["scheduled_for"], what="scheduled_for")
                metrics.LAUNCH_LAG.observe(max((report.now - due).total_seconds(), 0.0))
        for entry in report.skipped:
            metrics.NOT_LAUNCHED.labels(entry["reason"]).inc(entry.get("count", 1))
        if report.launched or report.skipped or report.notifications:
            self.deliverer.wake()

    def idle(self) -> bool:
        """Nothing left to deliver (``--exit-when-idle`` waits for the pending ones)."""
        deadline = time.monotonic() + DRAIN_LIMIT_S
        return self.deliverer.drain(deadline) or next_due(self.store) is None

    def stop(self) -> None:
        self.deliverer.stop()
        if self._server is not None:
            self._server.shutdown()
