"""Statements on a server's maintenance database (``postgres``) as its superuser: the ``sql/admin`` files
that ``fastdos server stop`` and the demo (``make run``) run on the embedded cluster."""

from __future__ import annotations

from . import db


def client_sessions(conninfo: str) -> list[tuple[str, str, int]]:
    """Client sessions other than this one: (database, application_name, count) rows, largest first."""
    with db.connect(conninfo, connect_timeout=5) as conn:
        return [(str(d), str(a), int(n)) for d, a, n in db.all_rows(conn, "admin/client_sessions")]


def drop_database(conninfo: str, dbname: str) -> None:
    """DROP DATABASE ``dbname`` if it exists, ending its sessions first."""
    with db.connect(conninfo) as conn:
        db.run(conn, "admin/drop_database", identifiers={"dbname": dbname})


def checkpoint(conninfo: str) -> None:
    """CHECKPOINT now: after a bulk load the server recycles its WAL segments at once, not at the next timed
    checkpoint (the embedded cluster allows 4 GB of WAL between checkpoints: server.TUNED_DEFAULTS)."""
    with db.connect(conninfo) as conn:
        db.run(conn, "admin/checkpoint")
