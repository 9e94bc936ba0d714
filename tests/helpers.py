"""Small helpers for tests: raw inserts of users and nodes with every column given (no server defaults)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg


def insert_user(conn: psycopg.Connection, email: str = "user@example.org") -> int:
    row = conn.execute(
        "INSERT INTO db_dbuser (email, first_name, last_name, institution) VALUES (%s, '', '', '') RETURNING id",
        (email,),
    ).fetchone()
    assert row is not None
    return int(row[0])


def insert_node(
    conn: psycopg.Connection,
    user_id: int,
    node_type: str = "data.core.int.Int.",
    extras: dict[str, Any] | None = None,
    repository_metadata: dict[str, Any] | None = None,
) -> int:
    now = datetime.now(UTC)
    row = conn.execute(
        "INSERT INTO db_dbnode (uuid, node_type, process_type, label, description, ctime, mtime, attributes,"
        " extras, repository_metadata, dbcomputer_id, user_id)"
        " VALUES (%s, %s, NULL, '', '', %s, %s, '{}', %s, %s, NULL, %s) RETURNING id",
        (
            uuid.uuid4(),
            node_type,
            now,
            now,
            json.dumps(extras or {}),
            json.dumps(repository_metadata or {}),
            user_id,
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])
