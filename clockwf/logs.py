"""Log records for people (one line each) and for machines (``--log-format json``).

Every record clockwf emits on purpose carries a stable ``action`` (``tick.done``,
``launch.duplicate``, ``store.unavailable`` ...) in ``extra``; tests and monitoring key on it.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message",
                                                                             "asctime"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, action, message and the extras."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "action": getattr(record, "action", None),
            "message": record.getMessage(),
        }
        for key, value in _extras(record).items():
            if key != "action":
                doc[key] = value
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


class HumanFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        action = getattr(record, "action", None)
        line = f"{ts} {record.levelname:<7} {record.getMessage()}"
        if action:
            line += f"  [{action}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup(fmt: str = "human", level: str = "info") -> None:
    """Configure the ``clockwf`` loggers to write to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else HumanFormatter())
    root = logging.getLogger("clockwf")
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    root.propagate = False
    # Libraries log too: psycopg_pool warns "error connecting" at every reconnection attempt.
    # Left alone, Python's last-resort handler prints those as bare text among the JSON lines.
    # Through our handler they keep the format; below ERROR only when debugging, since clockwf
    # reports an outage itself (store.unavailable, with its backoff).
    library = logging.getLogger("psycopg")
    for old in list(library.handlers):
        library.removeHandler(old)
    library.addHandler(handler)
    library.setLevel(logging.DEBUG if root.level <= logging.DEBUG else logging.ERROR)
    library.propagate = False
