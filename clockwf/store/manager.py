"""Every store operation, written once by query name over a backend's :class:`Connector`.

:class:`Tx` is the store contract's transaction (the conventions every operation follows are in
:mod:`clockwf.store.base`), and its only implementation: a backend adds no second copy of the
operations, only its :class:`Connector` and, where its dialect needs one, an override (SQLite
creates runs its own way). The SQL itself lives in ``sql/common/queries.sql`` and
``sql/<backend>/queries.sql``; a method here picks the named block, binds the parameters (always
including the namespace ``ns``) and shapes the result.
"""

from __future__ import annotations

from clockwf.store.tx_definitions import DefinitionOps
from clockwf.store.tx_execution import ExecutionOps
from clockwf.store.tx_scheduling import SchedulingOps


class Tx(DefinitionOps, SchedulingOps, ExecutionOps):
    """One open transaction of either backend, confined to namespace ``ns``. Commits when the
    ``with`` block of :meth:`Store.transaction <clockwf.store.base.Store.transaction>` ends,
    rolls back on exception. Its operations come in three groups, each a module of its own:
    definitions and versions (:mod:`~clockwf.store.tx_definitions`), scheduling
    (:mod:`~clockwf.store.tx_scheduling`) and execution (:mod:`~clockwf.store.tx_execution`)."""
