"""A namespace's default notify targets, published from a file like a definition.

The file holds one ``notify:`` block, the same as in a definition::

    # clockwf notify defaults: workflows without notify.to use these targets
    notify:
      on: [failed, timed_out, interrupted, missed, overdue, auto_paused, recovered]
      to:
        - webhook: {url: "https://hooks.example.com/ops"}

``clockwf notify publish FILE`` validates it (``file:line:column`` like a definition) and stores
it for the namespace; a workflow whose ``notify`` is absent, or has no ``to``, uses these
targets (and, when absent, these ``on``/``repeat``).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from pydantic import ConfigDict, ValidationError

from clockwf import yamlload
from clockwf.errors import DefinitionInvalid, Diagnostic
from clockwf.models import Notify, _Model
from clockwf.notify.outbox import load_notify, notify_json, q_exec, q_one
from clockwf.store.base import Store

log = logging.getLogger("clockwf.notify")


class DefaultsFile(_Model):
    """The namespace defaults file: one notify block."""

    notify: Notify

    model_config = ConfigDict(title="clockwf notify defaults")


@dataclass(frozen=True)
class Defaults:
    notify: Notify
    source: str
    content_hash: str


def load_defaults(source: bytes | str, path: str) -> Defaults:
    """Validate a defaults file. :raises DefinitionInvalid: with located diagnostics."""
    from clockwf.diagnostics import ErrorMapper  # the same mapping as definitions

    loaded = yamlload.load(source, path)
    data = loaded.data
    if not isinstance(data, dict) or "notify" not in data:
        raise DefinitionInvalid([Diagnostic("a notify defaults file is a mapping with one key, "
                                            "notify (the block a definition's notify takes)",
                                            1, 1, None, path)])
    try:
        parsed = DefaultsFile.model_validate(data)
    except ValidationError as exc:
        raise DefinitionInvalid(ErrorMapper(loaded.positions, path, root=DefaultsFile)
                                .map(exc.errors())) from None
    if not parsed.notify.to:
        raise DefinitionInvalid([Diagnostic("notify.to is empty: give at least one target",
                                            1, 1, "notify.to", path)])
    text = notify_json(parsed.notify)
    return Defaults(parsed.notify, loaded.text, hashlib.sha256(text.encode()).hexdigest())


def publish_defaults(store: Store, defaults: Defaults, path: str, now: datetime) -> str:
    """Store the defaults for the namespace: ``published`` or ``unchanged``."""
    with store.transaction() as tx:
        old = q_one(tx, "alerts_get_defaults")
        if old is not None and old["content_hash"] == defaults.content_hash:
            return "unchanged"
        q_exec(tx, "alerts_put_defaults", notify=notify_json(defaults.notify),
               content_hash=defaults.content_hash, source=defaults.source, source_path=path,
               now=now)
    log.info("published the notify defaults of namespace %s", store.ns,
             extra={"action": "notify.defaults_published"})
    return "published"


def current_defaults(store: Store) -> Notify | None:
    with store.read() as tx:
        row = q_one(tx, "alerts_get_defaults")
    return load_notify(row["notify"]) if row else None
