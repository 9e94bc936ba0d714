"""The engine on a borrowed connection: fastdos' services inside a transaction that the caller owns.

``BorrowedContext`` is what the aiida-core plugin uses (aiida's SQLAlchemy session holds the connection). The
caller must see fastdos' rows before its own commit, its rollback must remove them, and fastdos must never
commit, roll back or close what it was given.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import pq

from fastdos import graph, ingest, maintenance, update
from fastdos.backend import Backend
from fastdos.context import BorrowedContext, PooledContext, context_of
from fastdos.errors import ClosedStorage, DatabaseError, IntegrityError, TransactionStateError
from fastdos.profile import Profile
from fastdos.query import QueryBuilder
from fastdos.repository import Repository


def _node_rows(user_id: int, n: int, label: str) -> list[dict[str, object]]:
    return [
        {"node_type": "data.core.int.Int.", "user_id": user_id, "label": label, "attributes": {"value": i}}
        for i in range(n)
    ]


def _count(conn: psycopg.Connection, label: str) -> int:
    row = conn.execute("SELECT count(*) FROM db_dbnode WHERE label = %s", (label,)).fetchone()
    assert row is not None
    return int(row[0])


def _work_on(ctx: BorrowedContext, label: str) -> dict[str, object]:
    """bulk_insert, bulk_update, a traversal, a query and delete_nodes_and_connections, all on ``ctx``."""
    (user_id,) = ingest.bulk_insert(ctx, "user", [{"email": f"{label}@example.org"}], allow_defaults=True)
    ids = ingest.bulk_insert(ctx, "node", _node_rows(user_id, 4, label), allow_defaults=True)
    links = [
        {"input_id": ids[0], "output_id": ids[1], "label": "x", "type": "create"},
        {"input_id": ids[1], "output_id": ids[2], "label": "y", "type": "create"},
    ]
    ingest.bulk_insert(ctx, "link", links)
    update.bulk_update(ctx, "node", [{"id": ids[3], "extras": {"seen": True}}])
    descendants = graph.get_descendants(ctx, [ids[0]])
    qb = QueryBuilder(ctx).append("node", filters={"extras.seen": True}, project="id")
    queried = qb.all(flat=True)
    graph.delete_nodes_and_connections(ctx, [ids[2]])
    return {"ids": ids, "descendants": descendants, "queried": queried}


def test_work_is_visible_to_the_caller_and_gone_after_its_rollback(
    borrowed: tuple[psycopg.Connection, BorrowedContext], profile: Profile
) -> None:
    conn, ctx = borrowed
    label = f"borrowed-{uuid.uuid4().hex[:8]}"
    result = _work_on(ctx, label)
    ids = result["ids"]
    assert isinstance(ids, list)
    assert result["descendants"] == {ids[1]: 1, ids[2]: 2}
    assert result["queried"] == [ids[3]]
    # fastdos left the caller's transaction open and the connection usable.
    assert conn.info.transaction_status == pq.TransactionStatus.INTRANS
    assert not conn.closed
    assert _count(conn, label) == 3  # the caller sees the rows (one node deleted) before committing
    with psycopg.connect(profile.conninfo(), autocommit=True) as other:
        assert _count(other, label) == 0  # nobody else does: nothing was committed
    conn.rollback()
    assert _count(conn, label) == 0
    with psycopg.connect(profile.conninfo(), autocommit=True) as other:
        assert _count(other, label) == 0


def test_the_callers_commit_makes_the_work_durable(
    borrowed: tuple[psycopg.Connection, BorrowedContext], profile: Profile
) -> None:
    conn, ctx = borrowed
    label = f"borrowed-{uuid.uuid4().hex[:8]}"
    _work_on(ctx, label)
    conn.commit()
    with psycopg.connect(profile.conninfo(), autocommit=True) as other:
        assert _count(other, label) == 3


def test_rows_of_the_caller_not_yet_committed_are_visible_to_fastdos(
    borrowed: tuple[psycopg.Connection, BorrowedContext],
) -> None:
    conn, ctx = borrowed
    label = f"caller-{uuid.uuid4().hex[:8]}"
    row = conn.execute(
        "INSERT INTO db_dbuser (email, first_name, last_name, institution) VALUES (%s, '', '', '') RETURNING id",
        (f"{label}@example.org",),
    ).fetchone()
    assert row is not None
    ids = ingest.bulk_insert(ctx, "node", _node_rows(int(row[0]), 2, label), allow_defaults=True)
    assert QueryBuilder(ctx).append("node", filters={"label": label}, project="id").count() == 2
    assert sorted(QueryBuilder(ctx).append("node", filters={"label": label}, project="id").all(flat=True)) == ids


def test_a_failed_call_rolls_back_only_its_savepoint(borrowed: tuple[psycopg.Connection, BorrowedContext]) -> None:
    conn, ctx = borrowed
    label = f"savepoint-{uuid.uuid4().hex[:8]}"
    (user_id,) = ingest.bulk_insert(ctx, "user", [{"email": f"{label}@example.org"}], allow_defaults=True)
    first = ingest.bulk_insert(ctx, "node", _node_rows(user_id, 1, label), allow_defaults=True)
    (taken,) = conn.execute("SELECT uuid FROM db_dbnode WHERE id = %s", (first[0],)).fetchone() or (None,)
    clash = [*_node_rows(user_id, 2, label)]
    clash[1] = {**clash[1], "uuid": str(taken)}
    with pytest.raises(IntegrityError):
        ingest.bulk_insert(ctx, "node", clash, allow_defaults=True)
    # The caller's transaction survived the failure: its earlier rows are there and it can go on.
    assert conn.info.transaction_status == pq.TransactionStatus.INTRANS
    assert _count(conn, label) == 1
    ingest.bulk_insert(ctx, "node", _node_rows(user_id, 1, label), allow_defaults=True)
    assert _count(conn, label) == 2


def test_an_idle_connection_gets_its_transaction_opened_not_committed(
    borrowed: tuple[psycopg.Connection, BorrowedContext], profile: Profile
) -> None:
    conn, ctx = borrowed
    assert conn.info.transaction_status == pq.TransactionStatus.IDLE
    ingest.bulk_insert(ctx, "user", [{"email": "idle@example.org"}], allow_defaults=True)
    assert conn.info.transaction_status == pq.TransactionStatus.INTRANS
    with psycopg.connect(profile.conninfo(), autocommit=True) as other:
        row = other.execute("SELECT count(*) FROM db_dbuser WHERE email = 'idle@example.org'").fetchone()
        assert row == (0,)


def test_bad_connections_are_refused_with_a_clear_error(profile: Profile) -> None:
    repository = Repository(profile.container_path)
    try:
        with (
            psycopg.connect(profile.conninfo(), autocommit=True) as conn,
            pytest.raises(ValueError, match="autocommit"),
        ):
            BorrowedContext(conn, profile, repository)
        conn = psycopg.connect(profile.conninfo())
        ctx = BorrowedContext(conn, profile, repository)
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute("SELECT 1/0")
        with pytest.raises(DatabaseError, match="roll it back first"):
            ingest.bulk_insert(ctx, "user", [{"email": "x@example.org"}], allow_defaults=True)
        conn.rollback()
        conn.close()
        with pytest.raises(ClosedStorage):
            ingest.bulk_insert(ctx, "user", [{"email": "x@example.org"}], allow_defaults=True)
    finally:
        repository.close()


def test_work_that_needs_its_own_transactions_is_refused_on_a_borrowed_connection(
    borrowed: tuple[psycopg.Connection, BorrowedContext],
) -> None:
    conn, ctx = borrowed
    with pytest.raises(TransactionStateError, match="inside a transaction"):
        maintenance.maintain(ctx)
    assert not conn.closed


def test_backend_runs_on_a_pooled_context(backend: Backend) -> None:
    assert isinstance(backend.context, PooledContext)
    assert context_of(backend) is backend.context
    assert context_of(backend.context) is backend.context
