"""Collections and the QueryBuilder: reading the storage with aiida-core's vocabulary, compiled to
index-friendly SQL (issue 5).

``QueryMixin`` is mixed into :class:`fastdos.backend.Backend` and provides ``backend.query()`` and the
collections ``backend.nodes``, ``users``, ``computers``, ``groups``, ``comments``, ``logs``, ``authinfos``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from .builder import QueryBuilder
from .collections import (
    AuthInfoCollection,
    Collection,
    CommentCollection,
    ComputerCollection,
    GroupCollection,
    LogCollection,
    NodeCollection,
    UserCollection,
)
from .indexes import add_index, drop_index, install_process_indexes, list_indexes

if TYPE_CHECKING:
    from ..backend import Backend


class QueryMixin:
    """Methods mixed into :class:`fastdos.backend.Backend`."""

    def _backend_self(self) -> Backend:
        # mypy cannot type ``self: Backend`` on properties of a mixin; the mixin is only used by Backend.
        return cast("Backend", self)

    def query(self, *, closure: bool = True) -> QueryBuilder:
        """A new :class:`QueryBuilder` on this storage (``closure=False``: never read the closure table)."""
        backend = self._backend_self()
        backend._check_open()
        return QueryBuilder(backend, closure=closure)

    @property
    def nodes(self) -> NodeCollection:
        """The nodes (``db_dbnode``)."""
        return NodeCollection(self._backend_self())

    @property
    def users(self) -> UserCollection:
        """The users (``db_dbuser``)."""
        return UserCollection(self._backend_self())

    @property
    def computers(self) -> ComputerCollection:
        """The computers (``db_dbcomputer``)."""
        return ComputerCollection(self._backend_self())

    @property
    def groups(self) -> GroupCollection:
        """The groups (``db_dbgroup``)."""
        return GroupCollection(self._backend_self())

    @property
    def comments(self) -> CommentCollection:
        """The comments (``db_dbcomment``)."""
        return CommentCollection(self._backend_self())

    @property
    def logs(self) -> LogCollection:
        """The logs (``db_dblog``)."""
        return LogCollection(self._backend_self())

    @property
    def authinfos(self) -> AuthInfoCollection:
        """The authinfos (``db_dbauthinfo``)."""
        return AuthInfoCollection(self._backend_self())


__all__ = [
    "Collection",
    "QueryBuilder",
    "QueryMixin",
    "add_index",
    "drop_index",
    "install_process_indexes",
    "list_indexes",
]
