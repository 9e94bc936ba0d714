"""The connection pool and the thin executor: a few verbs that take a connection and a query name.

One ``Database`` per open backend. Connections run in autocommit mode; every unit of work happens inside
:meth:`Database.transaction`, which is ``BEGIN``/``COMMIT`` at the outermost level and a savepoint when
nested, so an inner failure rolls back only its own part (docs/storage-backend.md#transactions, without aiida's
commit-the-root quirk). A transaction belongs to the thread that opened it: the connection is pinned in a
thread-local until the outermost block ends.

The verbs log the query name and its duration, never parameter values, and convert errors once
(:func:`fastdos.errors.convert`).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg_pool
from psycopg import sql
from psycopg.rows import TupleRow
from psycopg.types.string import BytesBinaryDumper

from . import queries
from .errors import ClosedStorage, FastdosError, UnreachableStorage, convert, scrub

LOGGER = logging.getLogger("fastdos.db")

Connection = psycopg.Connection[TupleRow]
Params = Mapping[str, Any]

# Per-session settings. A crashed client that left a transaction open holds locks until its connection
# dies (aiida-core#7207, #5097); the server ends such sessions after this long idle inside a transaction.
IDLE_IN_TRANSACTION_TIMEOUT = "10min"

# When a pooled connection turns out dead, one direct connection attempt tells whether the server is gone;
# waiting for the pool instead took its whole timeout (30 s) and logged ~10 reconnection warnings.
LOST_SERVER_PROBE_TIMEOUT = 2
POOL_NAME = "fastdos"


class _PoolReconnectWarnings(logging.Filter):
    """Drops psycopg.pool's repeated reconnection warnings of fastdos' pools: the checkout that finds the
    server gone raises one UnreachableStorage with the server's reason instead."""

    MESSAGES = ("error connecting in %r: %s", "reconnection attempt in pool %r failed after %s sec")

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (record.msg in self.MESSAGES and args[:1] == (POOL_NAME,))


if not any(isinstance(f, _PoolReconnectWarnings) for f in logging.getLogger("psycopg.pool").filters):
    logging.getLogger("psycopg.pool").addFilter(_PoolReconnectWarnings())


class Database:
    """A psycopg connection pool plus the transaction bookkeeping of one backend."""

    def __init__(
        self,
        conninfo: str,
        *,
        password: str | None = None,
        min_size: int = 1,
        max_size: int = 8,
        timeout: float = 30.0,
        application_name: str = "fastdos",
    ) -> None:
        self._conninfo = conninfo
        self._password = password
        self._local = threading.local()
        self._pool = psycopg_pool.ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            open=False,
            name=POOL_NAME,
            kwargs={"autocommit": True, "application_name": application_name},
            configure=self._configure,
        )
        self._closed = False
        self._suspect = False  # a connection died: probe the server before waiting on the pool

    @staticmethod
    def _configure(conn: Connection) -> None:
        conn.execute(
            "SELECT set_config('idle_in_transaction_session_timeout', %s, false)",
            (IDLE_IN_TRANSACTION_TIMEOUT,),
        )

    def open(self, connect_timeout: int = 10) -> None:
        """Check that the server answers (so its own message reaches the user), then open the pool."""
        probe(self._conninfo, password=self._password, connect_timeout=connect_timeout)
        self._pool.open(wait=True, timeout=connect_timeout)

    def close(self) -> None:
        """Close the pool (idempotent)."""
        if not self._closed:
            self._closed = True
            self._pool.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def pool(self) -> psycopg_pool.ConnectionPool[Connection]:
        """The underlying pool (for statistics and tests)."""
        return self._pool

    # --- transactions -------------------------------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        """True only inside a :meth:`transaction` block of the calling thread (aiida's meaning)."""
        return getattr(self._local, "depth", 0) > 0

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """BEGIN/COMMIT at the outermost level, SAVEPOINT/RELEASE when nested; rollback on exception."""
        self._check_open()
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.depth += 1
            try:
                with savepoint(conn, "transaction/savepoint", self._password):
                    yield conn
            finally:
                self._local.depth -= 1
            return
        conn = self._checkout("transaction/connect")
        self._local.conn, self._local.depth = conn, 1
        try:
            with _converted("transaction/commit", self._password), conn.transaction():
                yield conn
        finally:
            self._local.conn, self._local.depth = None, 0
            self._checkin(conn)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """The thread's transaction connection if one is open, else a pooled autocommit connection."""
        self._check_open()
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        conn = self._checkout("connect")
        try:
            yield conn
        finally:
            self._checkin(conn)

    def _checkout(self, name: str) -> Connection:
        """A pooled connection that answers an empty round trip (~0.1 ms on a local socket), so that a server
        restart costs a reconnect, not a failed operation (aiida-core#3867: work lost after a restart).

        A dead connection makes the next checkouts probe the server first: gone, they fail at once with
        its reason; back, the pool is told to reconnect now rather than at its next back-off retry.
        """
        for _attempt in range(3):
            if self._suspect:
                try:
                    probe(self._conninfo, password=self._password, connect_timeout=LOST_SERVER_PROBE_TIMEOUT)
                except UnreachableStorage as exc:
                    raise UnreachableStorage(f"{name}: the database server went away: {exc}") from None
                self._suspect = False
                self._pool.check()
            try:
                conn = self._pool.getconn()
            except Exception as exc:
                raise self._checkout_error(exc, name) from exc
            try:
                psycopg_pool.ConnectionPool.check_connection(conn)
            except Exception:
                self._checkin(conn)  # the pool discards a broken connection and opens another
                continue
            return conn
        raise UnreachableStorage(f"{name}: the database server drops every new connection")

    def _checkin(self, conn: Connection) -> None:
        if conn.broken or conn.closed:
            self._suspect = True
        self._pool.putconn(conn)

    def _checkout_error(self, exc: Exception, name: str) -> FastdosError:
        """A pool timeout says whether the pool was exhausted (naming its size) or the server is unreachable."""
        if isinstance(exc, psycopg_pool.PoolTimeout):
            stats = self._pool.get_stats()
            in_use = stats.get("pool_size", 0) - stats.get("pool_available", 0)
            cause = (
                f"all {self._pool.max_size} connections of the pool (pool_max) are in use by other threads"
                if in_use >= self._pool.max_size
                else "the database server cannot be reached"
            )
            return UnreachableStorage(f"{name}: no database connection within {self._pool.timeout:g} s: {cause}")
        return convert(exc, name, self._password)

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedStorage("the database connection pool is closed")


@contextmanager
def _converted(name: str, password: str | None = None) -> Iterator[None]:
    try:
        yield
    except psycopg.Error as exc:
        raise convert(exc, name, password) from exc


@contextmanager
def savepoint(conn: Connection, name: str, password: str | None = None) -> Iterator[Connection]:
    """A savepoint on a connection already inside a transaction (a transaction on an idle one)."""
    with _converted(name, password), conn.transaction():
        yield conn


def connect(
    conninfo: str, *, password: str | None = None, connect_timeout: int = 10, autocommit: bool = True, **kwargs: Any
) -> Connection:
    """Open one connection: the only place fastdos calls ``psycopg.connect`` (the pool opens its own).

    :raises UnreachableStorage: with the server's reason, the password masked.
    """
    try:
        return psycopg.connect(conninfo, connect_timeout=connect_timeout, autocommit=autocommit, **kwargs)
    except psycopg.Error as exc:
        raise UnreachableStorage(
            f"Could not connect to database: {scrub(str(exc).strip(), password)}"
        ) from exc


def probe(conninfo: str, *, password: str | None = None, connect_timeout: int = 10) -> None:
    """Open and close one connection; ``UnreachableStorage`` with the server's reason on failure."""
    connect(conninfo, password=password, connect_timeout=connect_timeout).close()


# --- the executor ---------------------------------------------------------------------------------------


def _statement(name: str, identifiers: Mapping[str, str | sql.Composable] | None) -> sql.SQL | sql.Composed:
    query = queries.get(name)
    if identifiers or query.identifiers:
        return query.compose(**(identifiers or {}))
    return query.sql


@contextmanager
def _timed(name: str, suffix: str = "") -> Iterator[None]:
    """The one wrapper of every statement fastdos runs: logs its name and duration, converts its error once."""
    started = time.perf_counter()
    try:
        yield
    except psycopg.Error as exc:
        raise convert(exc, name) from exc
    LOGGER.debug("%s%s: %.2f ms", name, suffix, (time.perf_counter() - started) * 1e3)


def execute(
    conn: Connection,
    name: str,
    params: Params | None = None,
    *,
    identifiers: Mapping[str, str | sql.Composable] | None = None,
    prepare: bool | None = None,
) -> psycopg.Cursor[TupleRow]:
    """Run the query ``name`` with named ``params``; return the cursor for the caller to read."""
    return execute_composed(conn, name, _statement(name, identifiers), params, prepare=prepare)


def execute_composed(
    conn: Connection,
    name: str,
    statement: sql.SQL | sql.Composed,
    params: Params | None = None,
    *,
    prepare: bool | None = None,
) -> psycopg.Cursor[TupleRow]:
    """Run a statement composed at run time (the QueryBuilder, index DDL); ``name`` labels logs and errors."""
    with _timed(name):
        # No params, no placeholder parsing: a '%' in an identifier (a database named 'a%sb') or in a
        # definition read from the catalog must reach the server unchanged.
        return conn.execute(statement, params or None, prepare=prepare)


def run_together(
    conn: Connection, name: str, statements: Sequence[tuple[str, Mapping[str, str | sql.Composable]]]
) -> None:
    """Run several parameterless queries, each ``(query name, identifiers)``, in one round trip.

    For DDL sequences whose statements each cost the server little (working tables, ``ALTER TABLE``s): a round
    trip and its per-statement protocol work per statement cost more than the statement itself there
    (bench/notes/import.md). ``name`` labels the log line and errors.
    """
    if not statements:
        return
    batch = sql.SQL(" ").join(_statement(query, identifiers) for query, identifiers in statements)
    with _timed(name, f" ({len(statements)} statements)"):
        conn.execute(batch)


def stream(
    conn: Connection, name: str, statement: sql.SQL | sql.Composed, params: Params | None, batch_size: int
) -> Iterator[tuple[Any, ...]]:
    """Rows of ``statement`` through a server-side cursor, ``batch_size`` per round trip.

    The cursor needs a transaction: a savepoint when one is open, else a transaction of its own.
    """
    cursor_name = f"fastdos_{name.replace('-', '_').replace('/', '_')}_{next(_cursor_numbers)}"
    with _timed(name, " (streamed)"), conn.transaction(), conn.cursor(name=cursor_name) as cursor:
        cursor.itersize = batch_size
        cursor.execute(statement, params)
        while rows := cursor.fetchmany(batch_size):
            yield from rows


_cursor_numbers = itertools.count(1)


def run(conn: Connection, name: str, params: Params | None = None, **kw: Any) -> int:
    """Execute for effect; return the affected row count."""
    return execute(conn, name, params, **kw).rowcount


def one(conn: Connection, name: str, params: Params | None = None, **kw: Any) -> tuple[Any, ...] | None:
    """Execute and return the first row, or None."""
    return execute(conn, name, params, **kw).fetchone()


def scalar(conn: Connection, name: str, params: Params | None = None, **kw: Any) -> Any:
    """Execute and return the first column of the first row (None when there is no row)."""
    row = one(conn, name, params, **kw)
    return None if row is None else row[0]


def all_rows(conn: Connection, name: str, params: Params | None = None, **kw: Any) -> list[tuple[Any, ...]]:
    """Execute and return every row."""
    return execute(conn, name, params, **kw).fetchall()


def script(conn: Connection, name: str) -> None:
    """Run a multi-statement ``kind: script`` file (schema DDL) in one round trip."""
    query = queries.get(name)
    if query.kind != "script":
        raise ValueError(f"sql/{name}.sql is not a script")
    with _timed(name):
        conn.execute(query.sql)


@contextmanager
def copy(
    conn: Connection,
    name: str,
    params: Params | None = None,
    *,
    identifiers: Mapping[str, str | sql.Composable] | None = None,
    types: Sequence[str] | None = None,
) -> Iterator[psycopg.Copy]:
    """Open ``COPY ... FROM STDIN`` of the query ``name``; optional ``types`` switch on binary dumpers."""
    statement = _statement(name, identifiers)
    with _timed(name), conn.cursor() as cursor:
        if types is not None:
            # bytea by oid (fastdos' uuid and jsonb wire forms, fastdos/jsonvalues.py) would otherwise go through
            # psycopg's DB-API dumper, a Python call per value that unwraps Binary objects fastdos never passes:
            # 4 of a node row's 12 values, ~0.35 s of client CPU per 10^5 nodes (bench/notes/ingest.md).
            cursor.adapters.register_dumper(None, BytesBinaryDumper)
        with cursor.copy(statement, params) as copy_:
            if types is not None:
                copy_.set_types(list(types))
            yield copy_
