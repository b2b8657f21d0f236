"""The one way a run starts (docs/design.md §7.1): fire key, provenance, payload, one INSERT.

Every run -- a recurring or one-time fire, an emitted event, a manual start, a backfill -- is
built here as a :class:`~clockwf.store.base.NewRun` and created by :func:`launch`, which claims
the fire key and creates the run in one ``INSERT ... ON CONFLICT DO NOTHING RETURNING``
statement, inside the caller's transaction. A key that is already taken is a normal outcome (the
occurrence was launched before): it is logged at debug level and reported, never an error.

Every entry point goes through :func:`launch`, so it is where a run's payload is held to
:data:`PAYLOAD_LIMIT` (measured as stored: compact JSON in UTF-8); a run over it is refused with
:class:`~clockwf.errors.PayloadTooLarge` and, the caller's transaction failing, nothing is stored.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from clockwf.errors import PayloadTooLarge
from clockwf.firekeys import event_key, manual_key
from clockwf.models import PAYLOAD_SCHEMA, Definition
from clockwf.schedule import Occurrence, ScheduleSpec
from clockwf.store.base import NewRun, Row
from clockwf.store.manager import Tx
from clockwf.timeutil import format_duration, iso, iso_shared, iso_utc

log = logging.getLogger("clockwf.launcher")

PAYLOAD_LIMIT = 256 * 1024      # bytes of a run's payload, as stored (compact JSON, UTF-8)


class Launched(NamedTuple):
    fire_key: str
    run_id: int | None          # None: the key was taken already (duplicate)
    workflow_id: str


def launch(tx: Tx, runs: Sequence[NewRun]) -> list[Launched]:
    """Create the runs whose fire keys are free; report every one (run_id None = duplicate)."""
    if not runs:
        return []
    for run in runs:
        check_payload(run.payload)
    created = tx.insert_runs(runs)
    out = [Launched(run.fire_key, created.get(run.fire_key), run.workflow_id) for run in runs]
    if log.isEnabledFor(logging.INFO):  # (a tick launches thousands: skip building records)
        for run, launched in zip(runs, out, strict=True):
            if launched.run_id is None:
                log.debug("fire key %s already launched", run.fire_key,
                          extra={"action": "launch.duplicate", "fire_key": run.fire_key,
                                 "workflow_id": run.workflow_id})
            else:
                log.info("launched run %s for %s", launched.run_id, run.fire_key,
                         extra={"action": "launch.created", "fire_key": run.fire_key,
                                "run_id": launched.run_id, "workflow_id": run.workflow_id,
                                "trigger_type": run.trigger_type})
    return out


# One encoder for every run: json.dumps with options builds a new encoder on each call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def check_payload(payload: str, what: str = "the payload") -> None:
    """:raises PayloadTooLarge: ``payload`` (JSON text) is over :data:`PAYLOAD_LIMIT` bytes."""
    if len(payload) <= PAYLOAD_LIMIT // 4:  # UTF-8 takes at most 4 bytes a character
        return
    size = len(payload.encode("utf-8"))
    if size > PAYLOAD_LIMIT:
        raise PayloadTooLarge(
            f"{what} is {size:,} bytes as compact JSON, over the limit of "
            f"{PAYLOAD_LIMIT // 1024} KiB ({PAYLOAD_LIMIT:,} bytes): pass large data by "
            "reference (a path or a URL) instead; nothing was started",
            size=size, limit=PAYLOAD_LIMIT)


def encode_payload(payload: Any, what: str = "the payload") -> str:
    """The payload as stored (compact JSON; None is ``{}``).

    :raises PayloadTooLarge: it is over :data:`PAYLOAD_LIMIT`."""
    text = _dumps({} if payload is None else payload)
    check_payload(text, what)
    return text


def launched_by() -> str:
    """Who started a run from the command line: user@host."""
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or str(os.getuid())
    return f"{user}@{socket.gethostname()}"


# The payload stored for a time-triggered run: nothing. Its WorkflowClockTrigger.v1 payload is
# derived, by run_payload, from the run's own fields and provenance (which hold every value of
# it), so a tick writes each value once and encodes one JSON document per fire, not two.
DERIVED_PAYLOAD = ""


def time_run(spec: ScheduleSpec, version: int, occ: Occurrence, *, now: datetime,
             catchup: bool, backfill: bool = False, instance: str | None = None) -> NewRun:
    """A run for an occurrence of a recurring or one-time schedule, with its provenance
    (docs/design.md §3.2), from which :func:`run_payload` derives the pinned
    WorkflowClockTrigger.v1 payload (docs/design.md §7.2)."""
    return NewRun(
        fire_key=occ.fire_key, workflow_id=occ.workflow_id, workflow_version=version,
        trigger_type=occ.trigger_type, payload=DERIVED_PAYLOAD,
        metadata=_provenance_json(spec, occ, catchup, backfill, instance),
        created_at=now, scheduled_for=occ.nominal, due_at=occ.due,
        serial=spec.overlap != "allow",
    )


def time_provenance(spec: ScheduleSpec, occ: Occurrence, *, now: datetime, catchup: bool,
                    backfill: bool = False, instance: str | None = None) -> dict[str, Any]:
    """The provenance of a time-triggered run (docs/design.md §3.2), whole, in its key order.

    This is its definition. What a run stores is less (:func:`_provenance_json`): the keys its
    own columns say again are left out, and so are keys at their default; :func:`provenance`
    puts them back when the run is read. A test holds the round trip equal to this, key order
    included, over every kind of occurrence."""
    run_at = iso(spec.run_at.astimezone(occ.local.tzinfo)) if spec.run_at is not None else None
    # (A calendar-moved occurrence runs at ``local`` under the key of its nominal instant.)
    scheduled_for_utc = iso_utc(occ.nominal if occ.moved_from is None else occ.local)
    metadata = {
        "label": spec.label,
        "cron": spec.cron,
        "timezone": spec.timezone,
        "run_at": run_at,
        "scheduled_for": iso(occ.local),
        "scheduled_for_utc": scheduled_for_utc,
        "due_at": scheduled_for_utc if occ.due == occ.nominal else iso_utc(occ.due),
        "launch_lag_ms": int((now - occ.due).total_seconds() * 1000),
        "catchup": catchup,
        "backfill": backfill,
        "dst": occ.dst,
        "dst_note": occ.note,
        "jitter_ms": round(occ.jitter_s * 1000),
        "daemon": instance,
    }
    if spec.rrule is not None:
        metadata["rrule"] = spec.rrule
    elif spec.every_s is not None:
        metadata["every"] = format_duration(spec.every_s)
    if occ.cal is not None:
        metadata["moved_from"] = iso(occ.moved_from) if occ.moved_from is not None else None
        metadata["calendar_note"] = occ.note
    return metadata


# What a time-triggered run stores of its provenance (docs/design.md §3.2). Left out, because
# the run's own columns say them: scheduled_for_utc (the instant of the stored local
# scheduled_for), due_at (the due_at column), launch_lag_ms (created_at - due_at) and jitter_ms
# (due_at - scheduled_for); and every key below while it has its default. The tick writes one
# per run it creates, so a run row is a third as wide (330 -> about 110 bytes of JSON) and
# nothing is encoded twice.
_PROVENANCE_DEFAULTS: dict[str, Any] = {
    "cron": None, "run_at": None, "catchup": False, "backfill": False, "dst": None,
    "dst_note": None, "daemon": None,
}

# _provenance_json's cache of the part of a provenance that is the schedule's own (label, cron,
# timezone, run_at): id(spec) -> (spec, that JSON without its closing brace). Specs are shared
# and immutable (ScheduleSpec.from_row); the entry holds the spec, so its id is not reused.
_HEADS: dict[int, tuple[ScheduleSpec, str]] = {}
_HEADS_SIZE = 1 << 16


def _provenance_head(spec: ScheduleSpec, occ: Occurrence) -> str:
    hit = _HEADS.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    run_at = iso(spec.run_at.astimezone(occ.local.tzinfo)) if spec.run_at is not None else None
    own = {"label": spec.label, "cron": spec.cron, "timezone": spec.timezone, "run_at": run_at}
    head = _dumps({k: v for k, v in own.items()
                   if k not in _PROVENANCE_DEFAULTS or v != _PROVENANCE_DEFAULTS[k]})[:-1]
    if len(_HEADS) >= _HEADS_SIZE:
        _HEADS.clear()
    _HEADS[id(spec)] = (spec, head)
    return head


@lru_cache(maxsize=1024)
def _json_scalar(value: str | None) -> str:
    return _dumps(value)


def _provenance_json(spec: ScheduleSpec, occ: Occurrence, catchup: bool, backfill: bool,
                     instance: str | None) -> str:
    """The stored provenance (see :data:`_PROVENANCE_DEFAULTS`), written from cached pieces:
    the schedule's own part once per spec, the engine's shared instants formatted once. The
    local time is ISO text (digits, ``-:+T.``), which JSON quotes as it is."""
    parts = [_provenance_head(spec, occ), ',"scheduled_for":"', iso_shared(occ.local), '"']
    if catchup:
        parts.append(',"catchup":true')
    if backfill:
        parts.append(',"backfill":true')
    if occ.dst is not None:
        parts += ',"dst":', _json_scalar(occ.dst)
    if occ.note is not None:
        parts += ',"dst_note":', _json_scalar(occ.note)
    if instance is not None:
        parts += ',"daemon":', _json_scalar(instance)
    if spec.rrule is not None:
        parts += ',"rrule":', _dumps(spec.rrule)
    elif spec.every_s is not None:
        parts += ',"every":', _dumps(format_duration(spec.every_s))
    if occ.cal is not None:
        parts += (',"moved_from":', _json_scalar(iso(occ.moved_from)),
                  ',"calendar_note":', _json_scalar(occ.note))
    parts.append("}")
    return "".join(parts)


_TIME_TRIGGERS = ("recurring", "schedule")


def provenance(run: Row) -> dict[str, Any]:
    """A run's provenance (docs/design.md §3.2) as :func:`time_provenance` defines it: the
    stored JSON, and for a time-triggered run the keys its columns say put back in their
    place. (A run stored with its provenance whole, before it was stored lean, is returned as
    stored.) Everything that reads a run's provenance reads it here."""
    raw = run.get("metadata")
    stored: dict[str, Any] = json.loads(raw) if isinstance(raw, str) and raw else {}
    if run.get("trigger_type") not in _TIME_TRIGGERS or "scheduled_for" not in stored \
            or "scheduled_for_utc" in stored:
        return stored
    local = datetime.fromisoformat(stored["scheduled_for"])
    due, created = run["due_at"], run["created_at"]
    out = {"label": stored.get("label")}
    for key in ("cron", "timezone", "run_at"):
        out[key] = stored.get(key, _PROVENANCE_DEFAULTS.get(key))
    out["scheduled_for"] = stored["scheduled_for"]
    out["scheduled_for_utc"] = iso_utc(local)
    out["due_at"] = iso_utc(due)
    out["launch_lag_ms"] = int((created - due).total_seconds() * 1000)
    for key in ("catchup", "backfill", "dst", "dst_note"):
        out[key] = stored.get(key, _PROVENANCE_DEFAULTS[key])
    out["jitter_ms"] = round((due - local).total_seconds() * 1000)
    out["daemon"] = stored.get("daemon")
    for key in ("rrule", "every", "moved_from", "calendar_note"):
        if key in stored:
            out[key] = stored[key]
    return out


def time_payload(trigger_type: str, workflow_id: str, workflow_version: int, fire_key: str,
                 fired_at: datetime, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The WorkflowClockTrigger.v1 payload of a time-triggered run (docs/design.md §7.2), from
    its fields and its provenance (as :func:`time_run` writes it): the one place it is built,
    in its pinned key order, a schedule's ``rrule`` or ``every`` and a calendar's
    ``moved_from`` last, when it has them."""
    payload = {
        "schema": PAYLOAD_SCHEMA,
        "trigger_type": trigger_type,
        "workflow_id": workflow_id,
        "workflow_version": workflow_version,
        "fire_key": fire_key,
        "scheduled_for": metadata["scheduled_for"],
        "scheduled_for_utc": metadata["scheduled_for_utc"],
        "fired_at": iso_utc(fired_at),
        "timezone": metadata["timezone"],
        "cron": metadata["cron"],
        "run_at": metadata["run_at"],
        "catchup": metadata["catchup"],
        "backfill": metadata["backfill"],
    }
    if "rrule" in metadata:
        payload["rrule"] = metadata["rrule"]
    elif "every" in metadata:
        payload["every"] = metadata["every"]
    if metadata.get("moved_from") is not None:
        payload["moved_from"] = metadata["moved_from"]
    return payload


def run_payload(run: Row) -> str:
    """The payload a run's steps receive, as JSON text: the stored one, or for a time-triggered
    run (stored :data:`DERIVED_PAYLOAD`) the one :func:`time_payload` derives. Everything that
    hands a run's payload on (the executor, ``runs show``, JSON output) reads it here."""
    stored = run["payload"]
    if stored != DERIVED_PAYLOAD:
        return str(stored)
    return _dumps(time_payload(run["trigger_type"], run["workflow_id"],
                               int(run["workflow_version"]), run["fire_key"],
                               run["created_at"], provenance(run)))


def manual_run(workflow_id: str, version: int, definition: Definition, *,
               payload: Any, key: str | None, now: datetime,
               launched_by_: str | None = None) -> NewRun:
    """``clockwf run ID [--payload JSON] [--key K]``: key ``manual:<id>:<K or a new id>``
    (:mod:`clockwf.firekeys`)."""
    run_key = key if key is not None else uuid.uuid4().hex
    metadata = {"label": "manual", "key": run_key, "key_given": key is not None,
                "launched_by": launched_by_ or launched_by()}
    return NewRun(
        fire_key=manual_key(workflow_id, run_key), workflow_id=workflow_id,
        workflow_version=version, trigger_type="manual",
        payload=encode_payload(payload), metadata=_dumps(metadata),
        created_at=now, serial=definition.policy.overlap != "allow",
    )


def event_run(workflow_id: str, version: int, definition: Definition, *, event: str,
              event_id: str, payload: Any, now: datetime, source: str | None = None) -> NewRun:
    """One run per matching workflow of ``clockwf emit EVENT``:
    key ``event:<id>:<event>:<event id>``, the event id percent-encoded (:mod:`clockwf.firekeys`)."""
    metadata = {"label": f"event {event}", "event": event, "event_id": event_id,
                "emitted_by": source or launched_by()}
    return NewRun(
        fire_key=event_key(workflow_id, event, event_id), workflow_id=workflow_id,
        workflow_version=version, trigger_type="event",
        payload=encode_payload(payload), metadata=_dumps(metadata),
        created_at=now, serial=definition.policy.overlap != "allow",
    )


def new_event_id() -> str:
    return uuid.uuid4().hex
