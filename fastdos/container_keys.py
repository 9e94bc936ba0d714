"""The container's object keys inside PostgreSQL: one temp table that the key comparisons join against.

Used by the unreferenced-key scan (:mod:`fastdos.maintenance`) and the missing-object check
(:mod:`fastdos.integrity`). The keys are streamed by COPY in batches of text lines; the referenced keys are
extracted from ``repository_metadata`` on the server by a jsonpath walk (``sql/container_keys/differences.sql``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import db

if TYPE_CHECKING:
    from .repository import Repository

# Keys per COPY write: 64-hex keys plus newline, so ~650 KiB per write; batching the writes made streaming
# 10^5 keys about 3x faster than one write_row per key (bench/notes/repository.md).
COPY_BATCH = 10_000


def stage(conn: db.Connection, repository: Repository) -> None:
    """Fill the transaction's ``fastdos_container_keys`` table with every key of ``repository``.

    ``conn`` must be inside a transaction (the table is ``ON COMMIT DROP``); a table left by an earlier call in
    the same outer transaction is replaced.
    """
    db.run(conn, "container_keys/drop")
    db.run(conn, "container_keys/create")
    with db.copy(conn, "container_keys/copy") as copy:
        batch: list[str] = []
        for key in repository.list_objects():
            batch.append(key)
            if len(batch) >= COPY_BATCH:
                copy.write("\n".join(batch) + "\n")
                batch.clear()
        if batch:
            copy.write("\n".join(batch) + "\n")
    db.run(conn, "container_keys/analyze")


def differences(conn: db.Connection, check: bool) -> tuple[list[str], list[str]]:
    """``(unreferenced, missing)``: staged keys no node references, and (with ``check``) referenced keys that
    are not staged."""
    rows = db.all_rows(conn, "container_keys/differences", {"check": check})
    unreferenced = [str(key) for key, missing in rows if not missing]
    missing_keys = [str(key) for key, missing in rows if missing]
    return unreferenced, missing_keys


def drop(conn: db.Connection) -> None:
    """Drop the staged keys before the transaction ends (it may be a caller's that goes on)."""
    db.run(conn, "container_keys/drop")
