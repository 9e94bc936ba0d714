"""Archive import on a borrowed connection: inside the caller's transaction, undone by the caller's rollback.

``import_archive`` takes a Backend or a storage context; on a :class:`~fastdos.context.BorrowedContext` the
import is a savepoint in the caller's open transaction: the caller sees the imported rows before its own
commit, its rollback removes them, and a failed import leaves the caller's transaction usable with the
caller's own work in it.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import pq

from fastdos.archive import ImportValidationError
from fastdos.context import BorrowedContext
from fastdos.importer import import_archive
from tests.test_import import BAD_LINKS, SAMPLE, SAMPLE_COUNTS, counts, with_sql


def test_import_inside_the_callers_transaction(
    borrowed: tuple[psycopg.Connection, BorrowedContext], conn: psycopg.Connection
) -> None:
    own, ctx = borrowed
    report = import_archive(ctx, SAMPLE)
    assert report.stages["nodes"].new == 375 and report.objects_mode == "loose"  # no profile lock: loose
    assert own.info.transaction_status == pq.TransactionStatus.INTRANS and not own.closed
    assert counts(own) == SAMPLE_COUNTS  # the caller sees the rows before its commit
    assert set(counts(conn).values()) == {0}  # nobody else does
    own.rollback()
    assert set(counts(own).values()) == {0} and set(counts(conn).values()) == {0}


def test_failed_import_keeps_the_callers_work(
    borrowed: tuple[psycopg.Connection, BorrowedContext], conn: psycopg.Connection, tmp_path: Path
) -> None:
    own, ctx = borrowed
    own.execute("INSERT INTO db_dbuser (email, first_name, last_name, institution) VALUES ('own@x', '', '', '')")
    statement, message = BAD_LINKS["two creators"]
    with pytest.raises(ImportValidationError, match=message):
        import_archive(ctx, with_sql(tmp_path, statement))
    assert own.info.transaction_status == pq.TransactionStatus.INTRANS
    assert counts(own) == {**dict.fromkeys(SAMPLE_COUNTS, 0), "db_dbuser": 1}
    own.commit()
    assert counts(conn)["db_dbuser"] == 1 and counts(conn)["db_dbnode"] == 0
