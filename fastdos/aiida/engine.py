"""The fastdos services the plugin calls, on a :class:`~fastdos.context.StorageContext`.

One place that names them, so the plugin's backend reads as aiida-core's method list and the services can
move without touching it.
"""

from __future__ import annotations

from ..graph import delete_nodes_and_connections
from ..ingest import bulk_insert
from ..maintenance import get_unreferenced_keyset
from ..update import bulk_update

__all__ = ["bulk_insert", "bulk_update", "delete_nodes_and_connections", "get_unreferenced_keyset"]
