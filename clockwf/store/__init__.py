"""The store (docs/design.md §4.1): an SQLite file by default, or PostgreSQL, behind one contract.

:func:`open_store` turns a ``--db`` URL into a :class:`~clockwf.store.base.Store`:

- ``None`` (or empty): ``./clockwf.db``
- a plain path: ``/var/lib/clockwf/clockwf.db``, ``work.db``
- ``sqlite:///relative.db``, ``sqlite:////absolute/path.db``
- ``postgresql://user:password@host:5432/db`` (or ``postgres://``); needs the ``postgres`` extra
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from clockwf.errors import InvalidInput, StoreError
from clockwf.store.base import MigrationStatus, NewRun, NewSkip, Row, ScheduleAdvance, Store
from clockwf.store.manager import Tx

__all__ = ["MigrationStatus", "NewRun", "NewSkip", "Row", "ScheduleAdvance", "Store", "Tx",
           "open_store", "redact_url", "validate_namespace"]

DEFAULT_PATH = "clockwf.db"
NAMESPACE_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def validate_namespace(namespace: str) -> str:
    if not isinstance(namespace, str) or not NAMESPACE_RE.fullmatch(namespace):
        raise InvalidInput(
            f"invalid namespace {namespace!r}: use 1 to 64 characters among lower-case letters, "
            "digits, '.', '_' and '-', starting with a letter or a digit (for example team-a)")
    return namespace


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (in the user part and in the query)."""
    parts = urlsplit(url)
    netloc, query = parts.netloc, parts.query
    if parts.password is not None:
        userinfo, _, hostinfo = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostinfo}"
    if "password" in query.lower():
        query = urlencode([(k, "***" if k.lower() == "password" else v)
                           for k, v in parse_qsl(query, keep_blank_values=True)], safe="*")
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _sqlite_path(url: str) -> str:
    rest = url[len("sqlite://"):]
    if not rest.startswith("/") or rest == "/":
        raise InvalidInput(
            f"invalid SQLite URL {url!r}: write sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db (or just the path)")
    return rest[1:]


def open_store(url: str | None, namespace: str = "default", *, create: bool = True,
               check_schema: bool = True, pool_size: int | None = None,
               application_name: str | None = None) -> Store:
    """Open the store at ``url`` confined to ``namespace``.

    ``create``: a new store may be made: the SQLite file when it is missing and, with
    ``check_schema``, the schema of an empty store. Without it a missing SQLite file is an error.

    ``check_schema``: refuse a store whose schema is behind (:class:`~clockwf.errors.StoreError`
    telling to run ``clockwf db upgrade``) or ahead of this clockwf
    (:class:`~clockwf.errors.MigrationError`). ``clockwf db status`` opens with neither,
    ``clockwf db upgrade`` with ``create`` only; every other command with both (the default).

    ``pool_size`` and ``application_name`` (PostgreSQL): the most connections the store opens
    (besides its LISTEN connection) and the name they carry, with the process id, in
    ``pg_stat_activity``; see :mod:`clockwf.store.postgres`.

    :raises InvalidInput: a malformed URL or namespace.
    :raises StoreUnavailable: the store cannot be reached, is locked or read-only.
    :raises StoreError: a missing PostgreSQL driver, or a schema version mismatch.
    """
    namespace = validate_namespace(namespace)
    url = url or DEFAULT_PATH
    m = _SCHEME_RE.match(url)
    scheme = m.group(1).lower() if m else None
    if scheme in ("postgresql", "postgres"):
        url = scheme + url[len(scheme):]  # libpq knows the scheme in lower case only
        try:
            from clockwf.store.postgres import PostgresStore
        except ImportError as exc:
            raise StoreError(
                f"PostgreSQL support is not installed ({exc.name} is missing): install the "
                "postgres extra, pip install 'clockwf[postgres]'") from exc
        return PostgresStore(url, namespace, redacted_url=redact_url(url), create=create,
                             check_schema=check_schema, pool_size=pool_size,
                             application_name=application_name)
    if scheme not in (None, "sqlite"):
        raise InvalidInput(f"unsupported store URL {redact_url(url)!r}: use a file path, "
                           "sqlite:///path or postgresql://user@host/db")
    path = _sqlite_path(url) if scheme == "sqlite" else url
    if path == ":memory:" or path.startswith("file:"):
        raise InvalidInput(f"unsupported SQLite store {path!r}: give the path of a file")
    from clockwf.store.sqlite import SqliteStore

    return SqliteStore(path, namespace, create=create, check_schema=check_schema)
