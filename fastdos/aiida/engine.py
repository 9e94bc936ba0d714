"""The fastdos services the plugin calls, on a :class:`~fastdos.context.StorageContext`.

The services are being converted into modules of functions that take a context first (``fastdos.ingest``,
``fastdos.graph``, ``fastdos.maintenance``). Until that lands, the functions below run today's service
methods on a small object that exposes a context the way ``fastdos.Backend`` exposes its pool; each is one
call to the function of the same name once the services take a context.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from .. import db
from ..context import StorageContext
from ..graph import GraphMixin
from ..ingest import IngestMixin
from ..maintenance import MaintenanceMixin
from ..profile import Profile
from ..repository import Repository


class _Connections:
    """What the service mixins read of ``Backend.database``: a connection for reads."""

    def __init__(self, ctx: StorageContext) -> None:
        self._ctx = ctx

    @property
    def closed(self) -> bool:
        return False

    @property
    def in_transaction(self) -> bool:
        return self._ctx.in_transaction

    @contextmanager
    def connection(self) -> Iterator[db.Connection]:
        with self._ctx.connection() as conn:
            yield conn


class _Services(IngestMixin, GraphMixin, MaintenanceMixin):
    """Today's service methods bound to a context instead of a pool."""

    def __init__(self, ctx: StorageContext) -> None:
        self._ctx = ctx
        self._access = ctx.access

    @property
    def database(self) -> db.Database:
        return _Connections(self._ctx)  # type: ignore[return-value]

    @property
    def in_transaction(self) -> bool:
        return self._ctx.in_transaction

    @property
    def profile(self) -> Profile:
        return self._ctx.profile

    def transaction(self) -> AbstractContextManager[db.Connection]:
        return self._ctx.transaction()

    def get_repository(self) -> Repository:
        return self._ctx.repository

    def _check_open(self) -> None:
        self._ctx.check_open()


def bulk_insert(
    ctx: StorageContext, entity_type: str, rows: Sequence[Mapping[str, Any]], allow_defaults: bool = False
) -> list[int]:
    """``fastdos.ingest.bulk_insert``: COPY the rows in one savepoint; ids in input order."""
    return _Services(ctx).bulk_insert(entity_type, rows, allow_defaults)


def bulk_update(ctx: StorageContext, entity_type: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """``fastdos.update.bulk_update``: one ``UPDATE ... FROM`` a COPY'd temp table per key set."""
    _Services(ctx).bulk_update(entity_type, rows)


def delete_nodes_and_connections(ctx: StorageContext, pks: Iterable[int]) -> None:
    """``fastdos.graph.delete_nodes_and_connections``: four set-wise statements in one savepoint."""
    _Services(ctx).delete_nodes_and_connections(pks)


def get_unreferenced_keyset(ctx: StorageContext, check_consistency: bool = True) -> set[str]:
    """``fastdos.maintenance.get_unreferenced_keyset``: the key difference computed inside PostgreSQL."""
    return _Services(ctx).get_unreferenced_keyset(check_consistency)
