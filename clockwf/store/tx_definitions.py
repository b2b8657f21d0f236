"""Store operations on definitions, their versions, and API tokens (docs/design.md §4.3)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from clockwf.store.base import (
    Row,
)
from clockwf.store.tx_base import (
    TxBase,
)


class DefinitionOps(TxBase):
    # -- definitions and versions (docs/design.md §4.3) ----------------------------------------
    def lock_workflow(self, workflow_id: str) -> None:
        """Serialise publishes of one workflow (PG: advisory xact lock; SQLite: no-op)."""
        self.db.all("lock_workflow", self._p(workflow_id=workflow_id))

    def get_workflow(self, workflow_id: str) -> Row | None:
        return self.db.one("get_workflow", self._p(workflow_id=workflow_id))

    def upsert_workflow(self, *, workflow_id: str, name: str | None, current_version: int,
                        trigger_type: str, event_name: str | None, now: datetime,
                        published_from: str | None = None) -> None:
        """Insert, or update name/version/trigger/source (keeping paused state and
        created_at)."""
        self.db.execute("upsert_workflow", self._p(
            workflow_id=workflow_id, name=name, current_version=current_version,
            trigger_type=trigger_type, event_name=event_name, now=now,
            published_from=published_from))

    def set_workflow_paused(self, workflow_id: str, *, paused: bool, note: str | None,
                            now: datetime) -> bool:
        """Returns False when the workflow does not exist."""
        return self.db.execute("set_workflow_paused", self._p(
            workflow_id=workflow_id, paused=paused, note=note,
            paused_at=now if paused else None, now=now)) > 0

    def delete_workflow(self, workflow_id: str) -> bool:
        """Delete the workflow and its schedule (not versions, runs or skips)."""
        self.db.execute("delete_schedule", self._p(workflow_id=workflow_id))
        return self.db.execute("delete_workflow", self._p(workflow_id=workflow_id)) > 0

    def max_version(self, workflow_id: str) -> int | None:
        """Highest version ever stored for the id (deleted workflows included)."""
        row = self.db.one("max_version", self._p(workflow_id=workflow_id))
        return None if row is None else row["max_version"]

    def insert_version(self, *, workflow_id: str, version: int, content_hash: str,
                       definition: str, source: str, source_path: str | None,
                       published_at: datetime, published_from: str | None = None) -> None:
        """``published_from``: the source (``publish --source``) the version came from."""
        self.db.execute("insert_version", self._p(
            workflow_id=workflow_id, version=version, content_hash=content_hash,
            definition=definition, source=source, source_path=source_path,
            published_from=published_from, published_at=published_at))

    def get_version(self, workflow_id: str, version: int) -> Row | None:
        return self.db.one("get_version", self._p(workflow_id=workflow_id, version=version))

    def list_versions(self, workflow_id: str) -> list[Row]:
        """version, content_hash, source_path, published_from, published_at; newest first."""
        return self.db.all("list_versions", self._p(workflow_id=workflow_id))

    def list_workflows(self, *, trigger_types: Sequence[str] | None = None,
                       status: str | None = None) -> list[Row]:
        """Workflows LEFT JOIN schedules, ordered by workflow_id. ``status`` filters on
        'paused' / 'active' (workflow level) or a schedule status. Columns: every workflows
        column plus schedule_status, cron, timezone, run_at, next_fire_at, next_nominal_at,
        last_fire_key, last_fired_at."""
        return self.db.all("page_workflows", self._p(
            trigger_types=None if trigger_types is None else list(trigger_types),
            status=status, search=None, limit=None, offset=0))

    def workflows_from(self, published_from: str) -> list[Row]:
        """workflow_id and paused of the workflows whose current version came from this
        source, ordered by workflow_id (``publish --prune``)."""
        return self.db.all("workflows_from", self._p(published_from=published_from))

    def page_workflows(self, *, trigger_types: Sequence[str] | None = None,
                       status: str | None = None, search: str | None = None,
                       limit: int = 50, offset: int = 0) -> tuple[list[Row], int]:
        """One page of :meth:`list_workflows` (same columns, order and filters), ``search``
        matching a substring of the id or the name; and the number of rows of all pages."""
        params = self._p(trigger_types=None if trigger_types is None else list(trigger_types),
                         status=status, search=search or None, limit=limit, offset=offset)
        rows = self.db.all("page_workflows", params)
        counted = self.db.one("count_workflows", params)
        return rows, 0 if counted is None else int(counted["n"])

    def recent_runs_of(self, workflow_ids: Sequence[str], per: int) -> list[Row]:
        """run_id, workflow_id, status of the newest ``per`` runs of each workflow, by
        workflow_id then run_id."""
        if not workflow_ids:
            return []
        return self.db.all("recent_runs_of", self._p(workflow_ids=list(workflow_ids),
                                                     per=per))

    # -- API tokens (clockwf serve) ----------------------------------------------------------
    def insert_token(self, *, name: str, scope: str, token_hash: str, now: datetime) -> bool:
        """False when the namespace has a token of that name already."""
        return self.db.execute("insert_token", self._p(name=name, scope=scope,
                                                       token_hash=token_hash, now=now)) > 0

    def list_tokens(self) -> list[Row]:
        """name, scope, created_at of the namespace's tokens, by name (never a hash)."""
        return self.db.all("list_tokens", self._p())

    def delete_token(self, name: str) -> bool:
        return self.db.execute("delete_token", self._p(name=name)) > 0

    def token_by_hash(self, token_hash: str) -> Row | None:
        """namespace, name, scope of the token with this hash, in any namespace."""
        return self.db.one("token_by_hash", self._p(token_hash=token_hash))

    def count_tokens(self) -> int:
        """Tokens in the whole store, every namespace."""
        row = self.db.one("count_tokens", self._p())
        return 0 if row is None else int(row["n"])

    def workflows_for_event(self, event_name: str) -> list[Row]:
        """Published, unpaused workflows whose trigger is this event."""
        return self.db.all("workflows_for_event", self._p(event_name=event_name))
