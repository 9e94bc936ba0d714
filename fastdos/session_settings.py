"""Transaction-local server settings that are put back: ``jit = off`` for one statement, a ``lock_timeout``.

A ``SET LOCAL`` made inside a caller's transaction would outlive the savepoint that made it, so every change
here is undone explicitly when its block ends; on an error, the rollback of the enclosing transaction or
savepoint restores it. Used by the walks (fastdos/graph.py), the key extraction (fastdos/container_keys.py)
and the bulk deletion (fastdos/bulk_delete.py); why each switches JIT off is measured in
bench/notes/traversal.md, bench/notes/repository.md and bench/notes/graph.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from . import db


@contextlib.contextmanager
def local_setting(conn: db.Connection, setting: str, value: str) -> Iterator[None]:
    """``setting`` = ``value`` for the block, inside the open transaction only, and the previous value after it."""
    row = db.one(conn, "session/swap_local", {"setting": setting, "value": value})
    assert row is not None
    yield
    set_local(conn, setting, str(row[0]))


def no_jit(conn: db.Connection) -> contextlib.AbstractContextManager[None]:
    """No JIT compilation for the block (statements whose estimates pass the JIT thresholds but run once)."""
    return local_setting(conn, "jit", "off")


def set_local(conn: db.Connection, setting: str, value: str) -> None:
    """``setting`` = ``value`` for the rest of the open transaction (not put back)."""
    db.scalar(conn, "session/set_local", {"setting": setting, "value": value})
