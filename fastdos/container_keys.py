"""The container's object keys beside the keys the nodes reference: the unreferenced and the missing ones.

Used by the unreferenced-key scan (:mod:`fastdos.maintenance`), the restore check (:mod:`fastdos.backup`) and
the missing-object check (:mod:`fastdos.integrity`). The container's keys are read straight from its folder
(loose files, then the pack index's SQLite table); the referenced keys are extracted from
``repository_metadata`` on the server by a jsonpath walk (``sql/container_keys/referenced.sql``) and streamed
back, and the two sets are compared in Python. Moving the 10^5 container keys to the server instead (COPY,
``ANALYZE``, two hash anti-joins) cost more than streaming the referenced keys back (bench/notes/repository.md).
The integrity check still stages the keys on the server, because it names the nodes of each missing key.
"""

from __future__ import annotations

import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from . import db, session_settings

if TYPE_CHECKING:
    from .repository import Repository

# Keys per COPY write: 64-hex keys plus newline, so ~650 KiB per write; batching the writes made streaming
# 10^5 keys about 3x faster than one write_row per key (bench/notes/repository.md).
COPY_BATCH = 10_000

_HEX = frozenset("0123456789abcdef")


def list_keys(repository: Repository) -> set[str]:
    """Every key in the container, loose and packed (disk-objectstore's ``list_all_objects``, as a set).

    Read from the container folder (docs/repository.md#container): the loose folder's entries with
    disk-objectstore's name checks, then ``hashkey`` of the pack index, loose first as disk-objectstore does,
    so that an object packed meanwhile is still listed. 1.1*10^5 keys in ~40 ms against ~190 ms through
    ``list_all_objects`` (SQLAlchemy pages of 1000; bench/notes/repository.md). A folder that is not an
    initialised container goes through disk-objectstore, which raises its own error.
    """
    index = repository.path / "packs.idx"
    if not index.is_file():
        return set(repository.list_objects())
    keys: set[str] = set()
    loose = str(repository.path / "loose")
    prefix = int(repository.container.loose_prefix_len)
    for first in os.listdir(loose):
        if not prefix:
            if _HEX.issuperset(first):
                keys.add(first)
            continue
        if len(first) != prefix or not _HEX.issuperset(first):
            continue
        keys.update(f"{first}{rest}" for rest in os.listdir(f"{loose}/{first}") if _HEX.issuperset(rest))
    connection = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    try:
        keys.update(row[0] for row in connection.execute("SELECT hashkey FROM db_object"))
    finally:
        connection.close()
    return keys


def referenced_keys(conn: db.Connection) -> list[str]:
    """Every key some node's ``repository_metadata`` references, once per reference (a key two nodes share comes
    twice); ``conn`` must be inside a transaction (JIT is off for the extraction only)."""
    # The planner sizes jsonb_path_query at 1000 rows per node, the estimate passes every JIT threshold, and
    # compiling took ~0.45 s of a 0.56 s key extraction at 10^5 nodes (bench/notes/repository.md).
    with session_settings.no_jit(conn):
        row = db.one(conn, "container_keys/referenced_joined")
        assert row is not None
        joined, count = row
        parts = joined.split(" ") if joined is not None else []
        if len(parts) == count:
            return parts
        # a key with a space in it: one row per key (fetchall: iterating the cursor cost ~1.2 us per row)
        return [key for (key,) in db.execute(conn, "container_keys/referenced").fetchall()]


def differences(conn: db.Connection, repository: Repository, check: bool) -> tuple[set[str], list[str]]:
    """``(unreferenced, missing)``: container keys no node references, and (with ``check``) referenced keys
    that are not in the container, sorted; ``conn`` must be inside a transaction."""
    # The folder is listed in a thread while the server extracts: 206-219 ms against 232-240 ms one after
    # the other at 1.1*10^5 keys (bench/notes/repository.md).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastdos-keys") as pool:
        listing = pool.submit(list_keys, repository)
        referenced = referenced_keys(conn)
        container = listing.result()
    # Against the list: no set of the 10^5 referenced keys is built, sorted or freed; issuperset stops at the
    # first missing key (the Python side of a call at 10^5 keys: ~77 ms against ~91 ms with the sets and sorted
    # lists, cProfile; bench/notes/repository.md).
    unreferenced = container.difference(referenced)
    if not check or container.issuperset(referenced):
        return unreferenced, []
    return unreferenced, sorted(set(referenced) - container)


def stage(conn: db.Connection, repository: Repository) -> None:
    """Fill the transaction's ``fastdos_container_keys`` table with every key of ``repository``.

    ``conn`` must be inside a transaction (the table is ``ON COMMIT DROP``); a table left by an earlier call in
    the same outer transaction is replaced.
    """
    db.run(conn, "container_keys/drop")
    db.run(conn, "container_keys/create")
    keys = sorted(list_keys(repository))
    with db.copy(conn, "container_keys/copy") as copy:
        for start in range(0, len(keys), COPY_BATCH):
            copy.write("\n".join(keys[start : start + COPY_BATCH]) + "\n")
    db.run(conn, "container_keys/analyze")


def drop(conn: db.Connection) -> None:
    """Drop the staged keys before the transaction ends (it may be a caller's that goes on)."""
    db.run(conn, "container_keys/drop")
