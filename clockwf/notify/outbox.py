"""Which notifications a state change causes, written in the transaction of that change.

Every function here takes the open :class:`~clockwf.store.manager.Tx` of the change it reports
(a run's final status, a tick's batch, a publish, a resume) and adds to it: the workflow's
health (streak, last success, the dead-man clock), and for each notification due, one
``notifications`` row and one ``notification_deliveries`` row per target. A crash therefore
keeps both or neither; the daemon delivers what was committed (:mod:`clockwf.notify.deliver`).

Notification ids are UUIDs derived from the namespace and what the notification is about
(``run:42:failed``, ``missed:nightly:<first fire key>``...), and inserted with ON CONFLICT DO
NOTHING: two daemons noticing the same thing write it once.

Only the ``expect`` checks have a transaction of their own (:func:`check_expectations`), which
the tick calls: they are about time passing, not about a change.
"""

from __future__ import annotations

import json
import logging
import uuid
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from clockwf.errors import NotFound
from clockwf.models import Definition, Notify, NotifyTarget
from clockwf.notify.body import NOTIFICATION_SCHEMA, OUTPUT_TAIL_LIMIT
from clockwf.store.base import Row, Store
from clockwf.store.manager import Tx
from clockwf.timeutil import format_duration, iso_utc

if TYPE_CHECKING:
    from clockwf.schedule import Occurrence, Plan, ScheduleSpec
    from clockwf.store.common import Connector

log = logging.getLogger("clockwf.notify")

RUN_FAILURES = ("failed", "timed_out", "interrupted")
# Occurrences not launched on time because no daemon ran (user choices such as paused, overlap
# or dst skip are not alerts).
MISSED_REASONS = ("coalesced", "outside_window", "missed")
ID_NAMESPACE = uuid.UUID("6c1f0c0e-5a8e-4c59-9a57-4f0d3c1f7a21")


# -- store access ---------------------------------------------------------------------------------

def _db(tx: Tx) -> Connector:
    """The transaction's connector: this module's queries are the ``alerts_*`` blocks of the
    backend's queries.sql."""
    return tx.db


def q_all(tx: Tx, name: str, **params: Any) -> list[Row]:
    return _db(tx).all(name, {**params, "ns": tx.ns})


def q_one(tx: Tx, name: str, **params: Any) -> Row | None:
    return _db(tx).one(name, {**params, "ns": tx.ns})


def q_exec(tx: Tx, name: str, **params: Any) -> int:
    return _db(tx).execute(name, {**params, "ns": tx.ns})


# -- configuration ------------------------------------------------------------------------------

def notify_json(notify: Notify) -> str:
    return json.dumps(notify.model_dump(mode="json", exclude_none=True), sort_keys=True,
                      separators=(",", ":"))


def load_notify(raw: str | None) -> Notify | None:
    return None if not raw else Notify.model_validate(json.loads(raw))


def target_json(target: NotifyTarget) -> str:
    return json.dumps(target.model_dump(mode="json", exclude_none=True), sort_keys=True,
                      separators=(",", ":"))


def target_label(target: NotifyTarget) -> str:
    """How messages name a target: never a secret (no query string, no credentials, no
    resolved ``${env:}``; an Apprise URL by its scheme only)."""
    if target.webhook is not None:
        parts = urlsplit(target.webhook.url)
        host = parts.netloc.rsplit("@", 1)[-1]
        return f"webhook {parts.scheme}://{host}{parts.path}"
    if target.command is not None:
        run = target.command if isinstance(target.command, str) else target.command.run
        return f"command {run[:80]}"
    assert target.apprise is not None
    return f"apprise {target.apprise.split('://', 1)[0]}://"


class Targets:
    """The notify settings in force for workflows of one namespace, read once per call."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self._defaults: Notify | None = None
        self._loaded = False

    def defaults(self) -> Notify | None:
        if not self._loaded:
            row = q_one(self.tx, "alerts_get_defaults")
            self._defaults = load_notify(row["notify"]) if row else None
            self._loaded = True
        return self._defaults

    def effective(self, health: Row | None) -> Notify | None:
        """The workflow's own notify; its ``to`` falls back to the namespace defaults."""
        own = load_notify(health.get("notify") if health else None)
        if own is not None and own.to:
            return own
        defaults = self.defaults()
        if defaults is None or not defaults.to:
            return None
        if own is None:
            return defaults
        return Notify(on=own.on, repeat=own.repeat, to=defaults.to)


# -- writing notifications ----------------------------------------------------------------------

def notification_id(ns: str, key: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, f"{ns}\n{key}"))


def enqueue(tx: Tx, notify: Notify | None, *, key: str, event: str, workflow_id: str | None,
            now: datetime, summary: str, force: bool = False, **fields: Any) -> str | None:
    """Write one notification and its deliveries when ``notify`` asks for ``event`` (always
    with ``force``); returns its id, or None when none was written (not asked for, no target,
    or already written by another transaction)."""
    if notify is None or not notify.to or (not force and event not in notify.on):
        return None
    nid = notification_id(tx.ns, key)
    body: dict[str, Any] = {
        "schema": NOTIFICATION_SCHEMA, "id": nid, "event": event, "namespace": tx.ns,
        "workflow_id": workflow_id, "run_id": None, "fire_key": None, "status": None,
        "occurred_at": iso_utc(now), "summary": summary,
    }
    body.update({k.rstrip("_"): v for k, v in fields.items() if v is not None})
    if q_one(tx, "alerts_insert_notification", id=nid, event=event, workflow_id=workflow_id,
             run_id=body.get("run_id"), body=json.dumps(body, sort_keys=True),
             now=now) is None:
        return None
    for index, target in enumerate(notify.to):
        q_exec(tx, "alerts_insert_delivery", notification_id=nid, target_index=index,
               target=target_json(target), target_label=target_label(target), now=now)
    log.info("notification %s: %s", event, summary,
             extra={"action": "notify.recorded", "notification_id": nid, "event": event,
                    "workflow_id": workflow_id, "targets": len(notify.to)})
    return nid


# -- publish, resume ----------------------------------------------------------------------------

def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def on_publish(tx: Tx, definition: Definition, now: datetime) -> None:
    """A new version: take its notify and expect; the dead-man clock of a workflow that never
    succeeded counts from its first publish."""
    old = q_one(tx, "alerts_get_health", workflow_id=definition.id)
    expect = definition.expect
    within = expect.success_within if expect is not None else None
    overdue_at: datetime | None = None
    if within is not None and not (old and old["overdue"]):
        since = (old["last_success_at"] or old["first_published_at"]) if old else now
        overdue_at = since + within
    q_exec(tx, "alerts_publish_health", workflow_id=definition.id,
           notify=notify_json(definition.notify) if definition.notify is not None else None,
           success_within_s=_seconds(within),
           finish_within_s=_seconds(expect.finish_within if expect else None),
           pause_after_failures=expect.pause_after_failures if expect else None,
           overdue_at=overdue_at, now=now)


def on_resume(tx: Tx, workflow_id: str, now: datetime) -> None:
    """``resume`` clears an automatic pause: its reason, and the streak that caused it (the
    failure alert stays open until a run succeeds). A paused workflow was not overdue; its
    dead-man clock starts again."""
    health = q_one(tx, "alerts_get_health", workflow_id=workflow_id)
    if health is None:
        return
    overdue_at = health["overdue_at"]
    if health["success_within_s"] and not health["overdue"]:
        restart = now + timedelta(seconds=int(health["success_within_s"]))
        overdue_at = max(overdue_at, restart) if overdue_at is not None else restart
    _update(tx, health, now, consecutive_failures=0, auto_paused_at=None,
            auto_pause_reason=None, overdue_at=overdue_at)


def _update(tx: Tx, health: Row, now: datetime, **changes: Any) -> None:
    state = {k: health[k] for k in ("last_success_at", "last_failure_at", "consecutive_failures",
                                    "failing", "overdue", "overdue_at", "auto_paused_at",
                                    "auto_pause_reason")}
    state.update(changes)
    state["failing"] = bool(state["failing"])
    state["overdue"] = bool(state["overdue"])
    q_exec(tx, "alerts_update_health", workflow_id=health["workflow_id"], now=now, **state)


# -- run outcomes -------------------------------------------------------------------------------

def record_run_outcome(tx: Tx, run_ids: Iterable[int], now: datetime) -> None:
    """Runs that just reached their final status in ``tx``: update their workflows' health and
    write the notifications it calls for (failed / timed_out / interrupted, recovered,
    succeeded, auto_paused), and pause a workflow after ``expect.pause_after_failures``."""
    targets: Targets | None = None
    for run_id in run_ids:
        run = tx.get_run(run_id)
        if run is None:
            continue
        from clockwf.notify.metrics import observe_run

        observe_run(run)
        status = str(run["status"])
        if status not in (*RUN_FAILURES, "succeeded"):
            continue    # cancelled: somebody's choice, neither a failure nor a success
        health = q_one(tx, "alerts_get_health", workflow_id=run["workflow_id"])
        if health is None:
            continue    # not published through this clockwf (nothing to judge it against)
        targets = targets or Targets(tx)
        _run_outcome(tx, targets, health, run, status, now)


def _run_outcome(tx: Tx, targets: Targets, health: Row, run: Row, status: str,
                 now: datetime) -> None:
    wid = str(run["workflow_id"])
    notify = targets.effective(health)
    finished = run.get("finished_at") or now
    common: dict[str, Any] = {"run_id": int(run["run_id"]), "fire_key": run["fire_key"],
                              "status": status}
    last_success = health["last_success_at"]
    if status == "succeeded":
        streak = int(health["consecutive_failures"])
        if health["failing"] or health["overdue"]:
            why = (f"after {streak} failed run(s)" if health["failing"]
                   else "after being overdue")
            enqueue(tx, notify, key=f"run:{run['run_id']}:recovered", event="recovered",
                    workflow_id=wid, now=now, streak=streak or None,
                    summary=f"{wid} recovered: run {run['run_id']} succeeded {why}",
                    last_success_at=iso_utc(finished), **common)
        enqueue(tx, notify, key=f"run:{run['run_id']}:succeeded", event="succeeded",
                workflow_id=wid, now=now, summary=f"{wid}: run {run['run_id']} succeeded",
                last_success_at=iso_utc(finished), **common)
        within = health["success_within_s"]
        _update(tx, health, now, last_success_at=finished, consecutive_failures=0,
                failing=False, overdue=False,
                overdue_at=finished + timedelta(seconds=int(within)) if within else None)
        return

    streak = int(health["consecutive_failures"]) + 1
    repeat = notify.repeat if notify is not None else "change"
    if repeat == "every" or not health["failing"]:
        error = run.get("error")
        enqueue(tx, notify, key=f"run:{run['run_id']}:{status}", event=status, workflow_id=wid,
                now=now, streak=streak, summary=_failure_summary(wid, run, status, streak),
                last_success_at=iso_utc(last_success), error=error[:OUTPUT_TAIL_LIMIT]
                if error else None, output_tail=_output_tail(tx, int(run["run_id"])), **common)
    changes: dict[str, Any] = {"last_failure_at": finished, "consecutive_failures": streak,
                               "failing": True}
    limit = health["pause_after_failures"]
    if limit and streak >= int(limit) and health["auto_paused_at"] is None:
        reason = (f"auto-paused after {streak} consecutive failed runs "
                  f"(expect.pause_after_failures: {limit}); last: run {run['run_id']} {status}")
        if _auto_pause(tx, wid, reason, now):
            changes.update(auto_paused_at=now, auto_pause_reason=reason)
            # The notify setting's `on` decides, like every other event.
            enqueue(tx, notify, key=f"run:{run['run_id']}:auto_paused", event="auto_paused",
                    workflow_id=wid, now=now, streak=streak, reason=reason,
                    summary=f"{wid} {reason}", last_success_at=iso_utc(last_success),
                    **common)
    _update(tx, health, now, **changes)


def _failure_summary(wid: str, run: Row, status: str, streak: int) -> str:
    what = {"failed": "failed", "timed_out": "timed out",
            "interrupted": "was interrupted"}[status]
    text = f"{wid}: run {run['run_id']} {what}"
    if streak > 1:
        text += f" ({streak} failed runs in a row)"
    error = run.get("error")
    if error:
        text += f": {str(error).splitlines()[0][:200]}"
    return text


def _output_tail(tx: Tx, run_id: int) -> str | None:
    attempts = tx.list_step_attempts(run_id)
    for attempt in reversed(attempts):
        output = attempt.get("output")
        if output:
            return str(output)[-OUTPUT_TAIL_LIMIT:]
    return None


def _auto_pause(tx: Tx, workflow_id: str, reason: str, now: datetime) -> bool:
    """Pause the workflow's trigger in ``tx`` (as ``clockwf pause`` does), with ``reason``."""
    from clockwf.lifecycle import pause_in

    workflow = tx.get_workflow(workflow_id)
    if workflow is None or pause_in(tx, workflow_id, now, reason).status != "paused":
        return False
    log.warning("%s %s", workflow_id, reason,
                extra={"action": "workflow.auto_paused", "workflow_id": workflow_id})
    return True


# -- the tick: missed occurrences, expectations -------------------------------------------------

@dataclass
class _Missed:
    count: int
    first: Occurrence
    last: Occurrence


def record_missed(tx: Tx, owners: Sequence[tuple[ScheduleSpec, Row, Plan, list[Occurrence]]],
                  now: datetime) -> None:
    """One ``missed`` notification per workflow of a tick's batch whose occurrences were not
    launched on time because no daemon ran: the late ones the catch-up policy launched, and
    the ones it coalesced or dropped. Written in the batch's transaction."""
    missed: dict[str, _Missed] = {}
    for spec, _row, p, _launching in owners:
        late = [occ for occ, catchup in p.launches if catchup]
        groups = [g for g in p.skips if g.reason in MISSED_REASONS]
        if not late and not groups:
            continue
        firsts = late + [g.first for g in groups]
        lasts = late + [g.last for g in groups]
        missed[spec.workflow_id] = _Missed(
            len(late) + sum(g.count for g in groups),
            min(firsts, key=lambda o: o.nominal), max(lasts, key=lambda o: o.nominal))
    if not missed:
        return
    targets = Targets(tx)
    for health in q_all(tx, "alerts_health_of", workflow_ids=sorted(missed)):
        wid = str(health["workflow_id"])
        m = missed[wid]
        span = (f"at {iso_utc(m.first.nominal)}" if m.count == 1 else
                f"from {iso_utc(m.first.nominal)} to {iso_utc(m.last.nominal)}")
        enqueue(tx, targets.effective(health), key=f"missed:{wid}:{m.first.fire_key}",
                event="missed", workflow_id=wid, now=now, count=m.count,
                fire_key=m.first.fire_key, last_success_at=iso_utc(health["last_success_at"]),
                summary=f"{wid}: {m.count} occurrence(s) not launched on time {span} "
                        "because no daemon was running",
                to=iso_utc(m.last.nominal), from_=iso_utc(m.first.nominal))


_last_check: weakref.WeakKeyDictionary[Store, datetime] = weakref.WeakKeyDictionary()
CHECK_EVERY = timedelta(seconds=1)


def expectations_for_tick(store: Store, now: datetime) -> int:
    """:func:`check_expectations` from the tick: at most once per second of the time the
    ticks are given (per store), so that a tick that finds nothing stays one statement when
    ticks come faster than that. ``tick --now`` always checks."""
    last = _last_check.get(store)
    if last is not None and last <= now < last + CHECK_EVERY:
        return 0
    _last_check[store] = now
    return check_expectations(store, now)


def check_expectations(store: Store, now: datetime) -> int:
    """The tick's ``expect`` checks: ``overdue`` (no success within success_within) and
    ``slow`` (a run still running after finish_within), each alerted once. One cheap
    statement when nothing is due; returns the notifications written."""
    now = now.astimezone(UTC)
    with store.read() as tx:
        row = q_one(tx, "alerts_expectations_due", now=now)
    if not row or not row["due"]:
        return 0
    written = 0
    with store.transaction() as tx:
        targets = Targets(tx)
        for health in q_all(tx, "alerts_claim_overdue", now=now):
            wid = str(health["workflow_id"])
            within = timedelta(seconds=int(health["success_within_s"]))
            last = health["last_success_at"]
            since = (f"since {iso_utc(last)}" if last is not None
                     else f"since it was first published ({iso_utc(health['first_published_at'])})")
            written += enqueue(
                tx, targets.effective(health), key=f"overdue:{wid}:{iso_utc(now)}",
                event="overdue", workflow_id=wid, now=now, last_success_at=iso_utc(last),
                expected_within=format_duration(within),
                summary=f"{wid} is overdue: no run has succeeded {since} "
                        f"(expect.success_within: {format_duration(within)})") is not None
        slow = q_all(tx, "alerts_slow_runs", now=now)
        if slow:
            healths = {h["workflow_id"]: h for h in q_all(
                tx, "alerts_health_of", workflow_ids=sorted({r["workflow_id"] for r in slow}))}
            for run in slow:
                wid = str(run["workflow_id"])
                q_exec(tx, "alerts_mark_slow", workflow_id=wid, run_id=int(run["run_id"]))
                within = timedelta(seconds=int(run["finish_within_s"]))
                written += enqueue(
                    tx, targets.effective(healths.get(wid)), key=f"run:{run['run_id']}:slow",
                    event="slow", workflow_id=wid, now=now, run_id=int(run["run_id"]),
                    fire_key=run["fire_key"], status="running",
                    expected_within=format_duration(within),
                    summary=f"{wid}: run {run['run_id']} is still running after "
                            f"{format_duration(within)} (started {iso_utc(run['started_at'])};"
                            f" expect.finish_within: {format_duration(within)})") is not None
    return written


def failing_targets(tx: Tx) -> list[str]:
    """Problems for ``clockwf status``: one line per notify target whose latest delivery
    failed after its retries (a later successful delivery to it clears it), and one per
    workflow paused by ``expect.pause_after_failures``."""
    lines = []
    for row in q_all(tx, "alerts_failing_targets"):
        lines.append(f"notifications to {row['target_label']} are failing: "
                     f"{row['last_error']} (notification {row['notification_id']}, "
                     f"{row['attempts']} attempts, last {iso_utc(row['finished_at'])})")
    for row in q_all(tx, "alerts_auto_paused"):
        lines.append(f"{row['workflow_id']} is paused: {row['auto_pause_reason']} "
                     "(clockwf resume clears it)")
    return lines


# -- reading (clockwf notifications, the web API) ---------------------------------------------

def list_notifications(store: Store, *, workflow_id: str | None = None,
                       limit: int = 50) -> list[Row]:
    """The namespace's notifications, newest first, with their delivery counts."""
    with store.read() as tx:
        return q_all(tx, "alerts_list_notifications", workflow_id=workflow_id, limit=limit)


def get_notification(store: Store, notification_id: str) -> tuple[Row, list[Row]]:
    """One notification and its deliveries. :raises NotFound: not in this namespace."""
    with store.read() as tx:
        row = q_one(tx, "alerts_get_notification", id=notification_id)
        if row is None:
            raise NotFound(f"no notification {notification_id!r} in namespace {store.ns!r}")
        return row, q_all(tx, "alerts_deliveries_of", id=notification_id)
