"""What a storage holds, as aiida-core's ``get_info`` words it (docs/storage-backend.md#get_info).

A read-only service: the facade runs it on its read context, so a usable replica answers
(:mod:`fastdos.replicas`).
"""

from __future__ import annotations

from typing import Any

from . import db
from .context import StorageContext


def storage_info(ctx: StorageContext, detailed: bool = False) -> dict[str, Any]:
    """Entity counts (and, when ``detailed``, emails, labels, times and types), the repository, the size."""
    with ctx.connection() as conn:
        counts = db.one(conn, "info/counts")
        assert counts is not None
        users, computers, nodes, groups, comments, logs, links = counts
        entities: dict[str, Any] = {
            "Users": {"count": users},
            "Computers": {"count": computers},
            "Nodes": {"count": nodes},
            "Groups": {"count": groups},
            "Comments": {"count": comments},
            "Logs": {"count": logs},
            "Links": {"count": links},
        }
        if detailed:
            details = db.one(conn, "info/details")
            assert details is not None
            emails, labels, first, last, node_types, process_types, group_types = details
            entities["Users"]["emails"] = list(emails)
            entities["Computers"]["labels"] = list(labels)
            entities["Nodes"]["first_created"] = None if first is None else str(first)
            entities["Nodes"]["last_created"] = None if last is None else str(last)
            entities["Nodes"]["node_types"] = list(node_types)
            entities["Nodes"]["process_types"] = list(process_types)
            entities["Groups"]["type_strings"] = list(group_types)
        size = db.scalar(conn, "info/database_size")
    return {
        "entities": entities,
        "repository": ctx.repository.get_info(detailed),
        "database": {"size (MB)": round(int(size) / 1024**2, 2)},
    }
