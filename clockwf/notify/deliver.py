"""Delivering the outbox: each pending delivery at least once, in the background.

A delivery is claimed by moving its ``next_attempt_at`` to the end of a lease: a daemon killed
while sending leaves it due again once the lease ends, and the next daemon sends it (the
receiver drops the duplicate by the notification's id). A failed attempt is tried again after
an exponential backoff; after the last attempt the delivery is ``failed``, which makes
``clockwf status`` exit 1 until a later delivery to that target succeeds.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from clockwf.notify.outbox import q_all, q_exec, q_one
from clockwf.notify.targets import Sent, send
from clockwf.store.base import Row, Store
from clockwf.store.common import env_number

log = logging.getLogger("clockwf.notify")

ATTEMPTS_ENV, BACKOFF_ENV, LEASE_ENV = ("CLOCKWF_NOTIFY_ATTEMPTS", "CLOCKWF_NOTIFY_BACKOFF",
                                        "CLOCKWF_NOTIFY_LEASE")
DEFAULT_ATTEMPTS = 5
DEFAULT_BACKOFF_S = 5.0         # then 10, 20, 40 ... capped
BACKOFF_CAP_S = 600.0
DEFAULT_LEASE_S = 120.0         # longer than any target's timeout
BATCH = 20
IDLE_POLL_S = 1.0


@dataclass(frozen=True)
class Settings:
    attempts: int = DEFAULT_ATTEMPTS
    backoff_s: float = DEFAULT_BACKOFF_S
    lease_s: float = DEFAULT_LEASE_S

    @classmethod
    def from_env(cls) -> Settings:
        return cls(int(env_number(ATTEMPTS_ENV, DEFAULT_ATTEMPTS)),
                   env_number(BACKOFF_ENV, DEFAULT_BACKOFF_S),
                   env_number(LEASE_ENV, DEFAULT_LEASE_S))

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.backoff_s * 2 ** max(attempts - 1, 0), BACKOFF_CAP_S))


@dataclass(frozen=True)
class Outcome:
    notification_id: str
    target_label: str
    attempts: int
    status: str          # delivered | pending (tried again later) | failed
    detail: str


def deliver_due(store: Store, owner: str, now: Callable[[], datetime], *,
                settings: Settings | None = None, only_id: str | None = None,
                limit: int = BATCH) -> list[Outcome]:
    """Claim up to ``limit`` due deliveries, send each, record the result."""
    settings = settings or Settings.from_env()
    at = now()
    with store.transaction() as tx:
        claimed = q_all(tx, "alerts_claim_deliveries", owner=owner, now=at,
                        lease_until=at + timedelta(seconds=settings.lease_s), limit=limit,
                        only_id=only_id)
        bodies = {r["id"]: r["body"] for r in q_all(
            tx, "alerts_bodies", ids=sorted({c["notification_id"] for c in claimed}))}
    outcomes = []
    for row in sorted(claimed, key=lambda r: (r["notification_id"], r["target_index"])):
        body = bodies.get(row["notification_id"])
        if body is None:
            sent = Sent(False, "the notification was pruned before it was delivered")
        else:
            summary = str(json.loads(body).get("summary", ""))
            sent = send(row["target"], row["target_label"], body.encode(),
                        row["notification_id"], summary)
        outcomes.append(_record(store, owner, row, sent, now(), settings))
    return outcomes


def _record(store: Store, owner: str, row: Row, sent: Sent, at: datetime,
            settings: Settings) -> Outcome:
    attempts = int(row["attempts"])
    if sent.ok:
        status, next_at = "delivered", at
    elif attempts >= settings.attempts:
        status, next_at = "failed", at
    else:
        status, next_at = "pending", at + settings.backoff(attempts)
    with store.transaction() as tx:
        q_exec(tx, "alerts_finish_delivery", owner=owner, notification_id=row["notification_id"],
               target_index=row["target_index"], status=status, next_attempt_at=next_at,
               last_error=None if sent.ok else sent.detail[:1000],
               finished_at=at if status != "pending" else None)
    level = logging.INFO if sent.ok else logging.WARNING if status == "pending" else logging.ERROR
    log.log(level, "notification %s to %s: %s (attempt %d%s)", row["notification_id"],
            row["target_label"], sent.detail, attempts,
            "" if status != "pending" else f", next in {(next_at - at).total_seconds():.0f}s",
            extra={"action": f"notify.{status}", "notification_id": row["notification_id"],
                   "target": row["target_label"], "attempt": attempts})
    return Outcome(row["notification_id"], row["target_label"], attempts, status, sent.detail)


def next_due(store: Store) -> datetime | None:
    with store.read() as tx:
        row = q_one(tx, "alerts_next_delivery")
    return None if row is None else row["next_attempt_at"]


class Deliverer:
    """The daemon's background delivery thread: a slow target never delays a tick."""

    def __init__(self, store: Store, owner: str, now: Callable[[], datetime]) -> None:
        self.store = store
        self.owner = owner
        self.now = now
        self.settings = Settings.from_env()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="clockwf-notify", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                done = deliver_due(self.store, self.owner, self.now, settings=self.settings)
            except Exception as exc:   # a store outage: the tick loop reports it; try later
                log.warning("delivering notifications failed: %s", exc,
                            extra={"action": "notify.error"})
                done = []
            if not done:
                self._wake.wait(IDLE_POLL_S)
                self._wake.clear()

    def drain(self, deadline: float) -> bool:
        """Deliver what is due now (retries included) until nothing is pending or the monotonic
        ``deadline``; True when nothing is pending. For ``daemon --exit-when-idle``."""
        import time

        while time.monotonic() < deadline:
            due = next_due(self.store)
            if due is None:
                return True
            self.wake()
            time.sleep(min(0.1, max(deadline - time.monotonic(), 0)))
        return next_due(self.store) is None
