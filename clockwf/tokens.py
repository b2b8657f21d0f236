"""API tokens of ``clockwf serve``: one namespace and one scope each; only a hash is stored.

A token is ``cwf_`` and 43 random URL-safe characters (256 bits): enough entropy that a plain
SHA-256 of it is a safe thing to store and to look up by (no salt or slow hash is needed for a
random secret, unlike a password). ``clockwf token create`` shows the token once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from clockwf.errors import InvalidInput, NotFound, Refused
from clockwf.store.base import Row, Store

SCOPES = ("read", "operate", "admin")   # each includes the ones before it
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
PREFIX = "cwf_"


@dataclass(frozen=True)
class Principal:
    """Who is asking: a token's namespace, scope and name (``--no-auth``: name None)."""

    namespace: str
    scope: str
    name: str | None

    def allows(self, needed: str) -> bool:
        return SCOPES.index(self.scope) >= SCOPES.index(needed)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(token: str) -> str:
    """The CSRF token of a browser session: derived from its secret, so any ``serve`` process
    sharing the store checks it without shared state."""
    return hmac.new(token.encode("utf-8"), b"clockwf-csrf", hashlib.sha256).hexdigest()


def check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise InvalidInput(f"--scope must be one of {', '.join(SCOPES)}; got {scope!r}")
    return scope


def create(store: Store, name: str, scope: str, now: datetime) -> str:
    """Store a new token's hash under ``name``; returns the token (shown once, never again)."""
    if not NAME_RE.fullmatch(name):
        raise InvalidInput(f"token name {name!r}: use 1 to 64 letters, digits, '.', '_' or '-', "
                           "starting with a letter or a digit")
    check_scope(scope)
    token = PREFIX + secrets.token_urlsafe(32)
    with store.transaction() as tx:
        if not tx.insert_token(name=name, scope=scope, token_hash=token_hash(token),
                               now=now.astimezone(UTC)):
            raise Refused(f"namespace {store.ns!r} has a token named {name!r} already; revoke "
                          "it first or choose another name")
    return token


def list_tokens(store: Store) -> list[Row]:
    with store.read() as tx:
        return tx.list_tokens()


def revoke(store: Store, name: str) -> None:
    with store.transaction() as tx:
        if not tx.delete_token(name):
            raise NotFound(f"no token named {name!r} in namespace {store.ns!r}")


def authenticate(store: Store, token: str) -> Principal | None:
    """The principal a presented token stands for, in whichever namespace it was made."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    with store.read() as tx:
        row = tx.token_by_hash(token_hash(token))
    if row is None:
        return None
    return Principal(row["namespace"], row["scope"], row["name"])


def any_token(store: Store) -> bool:
    with store.read() as tx:
        return tx.count_tokens() > 0
