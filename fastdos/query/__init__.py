"""Collections and the QueryBuilder: reading the storage with aiida-core's vocabulary, compiled to
index-friendly SQL (issue 5).

:class:`fastdos.backend.Backend` exposes ``backend.query()`` and the collections ``backend.nodes``, ``users``,
``computers``, ``groups``, ``comments``, ``logs``, ``authinfos``; each is built over a storage context.
"""

from __future__ import annotations

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

__all__ = [
    "AuthInfoCollection",
    "Collection",
    "CommentCollection",
    "ComputerCollection",
    "GroupCollection",
    "LogCollection",
    "NodeCollection",
    "QueryBuilder",
    "UserCollection",
    "add_index",
    "drop_index",
    "install_process_indexes",
    "list_indexes",
]
