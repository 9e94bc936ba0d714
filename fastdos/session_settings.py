"""Transaction-local server settings that are put back: ``jit = off`` (or others) for one statement, a ``lock_timeout``.

A ``SET LOCAL`` made inside a caller's transaction would outlive the savepoint that made it, so every change
here is undone explicitly when its block ends; on an error, the rollback of the enclosing transaction or
savepoint restores it. Used by the walks (fastdos/graph.py), the key extraction (fastdos/container_keys.py)
and the bulk deletion (fastdos/bulk_delete.py); why each switches JIT off is measured in
bench/notes/traversal.md, bench/notes/repository.md and bench/notes/graph.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import psycopg

from . import db
from .errors import convert


@contextlib.contextmanager
def local_setting(conn: db.Connection, setting: str, value: str) -> Iterator[None]:
    """``setting`` = ``value`` for the block, inside the open transaction only, and the previous value after it."""
    row = db.one(conn, "session/swap_local", {"setting": setting, "value": value})
    assert row is not None
    try:
        yield
    finally:  # a failed transaction needs no restore: its rollback undoes the setting
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.INERROR:
            set_local(conn, setting, str(row[0]))


def no_jit(conn: db.Connection) -> contextlib.AbstractContextManager[None]:
    """No JIT compilation for the block (statements whose estimates pass the JIT thresholds but run once)."""
    return local_setting(conn, "jit", "off")


def set_local(conn: db.Connection, setting: str, value: str) -> None:
    """``setting`` = ``value`` for the rest of the open transaction (not put back)."""
    db.scalar(conn, "session/set_local", {"setting": setting, "value": value})


def execute_without_jit(
    conn: db.Connection, name: str, execute: Callable[[], psycopg.Cursor[Any]]
) -> psycopg.Cursor[Any]:
    """``execute()`` (one statement) with JIT off (:func:`execute_with_settings`)."""
    return execute_with_settings(conn, name, {"jit": "off"}, execute)


def execute_with_settings(
    conn: db.Connection, name: str, settings: dict[str, str], execute: Callable[[], psycopg.Cursor[Any]]
) -> psycopg.Cursor[Any]:
    """``execute()`` (one statement) with ``settings``. On an idle autocommit connection they are
    transaction-local and sent in the same pipeline, i.e. the same implicit transaction as the statement: no
    round trip and nothing to restore; elsewhere each is switched and put back (:func:`local_setting`)."""
    if conn.autocommit and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        try:
            with conn.pipeline():  # (a server error surfaces at the pipeline's sync, outside the verbs)
                for setting, value in settings.items():
                    db.execute(conn, "session/swap_local", {"setting": setting, "value": value})
                cursor = execute()
        except psycopg.Error as exc:
            raise convert(exc, name) from exc
        return cursor
    with contextlib.ExitStack() as stack:
        for setting, value in settings.items():
            stack.enter_context(local_setting(conn, setting, value))
        return execute()
