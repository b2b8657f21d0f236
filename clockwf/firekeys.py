"""Fire keys: the UNIQUE name of one occurrence, and how to read one back.

===============================================  ==============================================
``recurring:<workflow id>:<UTC instant>``        a recurring trigger's occurrence
``schedule:<workflow id>:<UTC instant>``         a one-time trigger's occurrence
``event:<workflow id>:<event>:<event id>``       one emitted event, for one workflow on it
``manual:<workflow id>:<key>``                   ``clockwf run ID [--key K]``
===============================================  ==============================================

A key splits at ``:`` without ambiguity: a workflow id never contains ``:`` (``ID_PATTERN``), so
the kind and the workflow id are the first two parts; an instant has a fixed form; a manual key
is the whole rest. An event name may contain ``:`` and so may an event id, so in an event key the
event id is percent-encoded (``%`` as ``%25``, ``:`` as ``%3A``, nothing else): the event id is
what follows the last ``:`` and the event name is what lies between. An event id without ``%``
or ``:`` is written as it is, so the keys stored before this encoding existed keep their meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("recurring", "schedule", "event", "manual")
_ENCODED = re.compile("%(25|3A)")


def encode_part(text: str) -> str:
    """``%`` -> ``%25`` and ``:`` -> ``%3A``; every other character stays as it is."""
    if "%" not in text and ":" not in text:
        return text
    return text.replace("%", "%25").replace(":", "%3A")


def decode_part(text: str) -> str:
    """The inverse of :func:`encode_part`."""
    return _ENCODED.sub(lambda m: "%" if m.group(1) == "25" else ":", text)


def event_key(workflow_id: str, event: str, event_id: str) -> str:
    """``event:<workflow id>:<event>:<event id, percent-encoded>``."""
    return f"event:{workflow_id}:{event}:{encode_part(event_id)}"


def manual_key(workflow_id: str, key: str) -> str:
    """``manual:<workflow id>:<key>`` (the key is the whole rest: it needs no encoding)."""
    return f"manual:{workflow_id}:{key}"


@dataclass(frozen=True)
class FireKey:
    """The parts of a fire key. ``instant`` for recurring and schedule keys (the text, as
    written), ``event`` and ``event_id`` for event keys, ``key`` for manual ones."""

    kind: str
    workflow_id: str
    instant: str | None = None
    event: str | None = None
    event_id: str | None = None
    key: str | None = None


def parse(text: str) -> FireKey:
    """Split a fire key into its parts.

    :raises ValueError: when ``text`` is not a fire key of one of :data:`KINDS`.
    """
    kind, sep, rest = text.partition(":")
    workflow_id, sep2, tail = rest.partition(":")
    if not (sep and sep2 and workflow_id) or kind not in KINDS:
        raise ValueError(f"not a fire key: {text!r}")
    if kind == "manual":
        return FireKey(kind, workflow_id, key=tail)
    if kind == "event":
        event, sep3, event_id = tail.rpartition(":")
        if not sep3 or not event:
            raise ValueError(f"not an event fire key (event:<id>:<event>:<event id>): {text!r}")
        return FireKey(kind, workflow_id, event=event, event_id=decode_part(event_id))
    return FireKey(kind, workflow_id, instant=tail)
