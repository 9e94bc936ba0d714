"""The storage context: what every service needs from an open storage, declared once.

A service (ingest, update, graph, maintenance, importer, query, indexes) is a set of functions over a
:class:`StorageContext`. The context answers four questions: which connection to use (for a read, and for a
unit of work), whether a transaction is open, where the repository is, and which profile and profile lock
belong to it. Two implementations:

* :class:`PooledContext` — fastdos owns a psycopg pool and its transactions (what :class:`fastdos.Backend`
  uses): ``BEGIN``/``COMMIT`` at the outermost level, savepoints when nested, reads on any pooled connection.
* :class:`BorrowedContext` — a psycopg connection that someone else opened and whose transaction they own
  (aiida-core's SQLAlchemy session, through the plugin in :mod:`fastdos.aiida`). fastdos then works inside
  that transaction: a unit of work is a savepoint, never a ``COMMIT`` or ``ROLLBACK`` of the caller's
  transaction, and the connection is never closed. The caller sees fastdos' rows before its own commit, and
  its rollback removes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Protocol

from psycopg import pq

from . import db
from .errors import ClosedStorage, DatabaseError

if TYPE_CHECKING:
    from .locking import ProfileAccess
    from .profile import Profile
    from .repository import Repository


class StorageContext(Protocol):
    """The interface every service works against."""

    @property
    def profile(self) -> Profile:
        """The profile of the storage."""

    @property
    def repository(self) -> Repository:
        """The repository (disk-objectstore container) of the storage."""

    @property
    def access(self) -> ProfileAccess | None:
        """The shared profile access this storage holds, if any (the exclusive lock is taken through it)."""

    @property
    def in_transaction(self) -> bool:
        """Whether work runs inside an open transaction (a caller's, or this thread's :meth:`transaction`)."""

    @property
    def owns_transactions(self) -> bool:
        """False when the transaction belongs to someone else: no COMMIT, no work that needs autocommit."""

    def connection(self) -> AbstractContextManager[db.Connection]:
        """A connection for reads: the open transaction's, else any (an autocommit one when pooled)."""

    def transaction(self) -> AbstractContextManager[db.Connection]:
        """A unit of work: a transaction, or a savepoint inside the one already open."""

    def check_open(self) -> None:
        """Raise :class:`~fastdos.errors.ClosedStorage` when the storage was closed."""


class _StorageParts:
    """What both contexts hold the same way: the profile, its repository and the profile access."""

    def __init__(self, profile: Profile, repository: Repository, access: ProfileAccess | None) -> None:
        self._profile = profile
        self._repository = repository
        self._access = access

    @property
    def profile(self) -> Profile:
        return self._profile

    @property
    def repository(self) -> Repository:
        return self._repository

    @property
    def access(self) -> ProfileAccess | None:
        return self._access


class PooledContext(_StorageParts):
    """fastdos owns the connections (a :class:`fastdos.db.Database` pool) and the transactions."""

    def __init__(
        self, profile: Profile, database: db.Database, repository: Repository, access: ProfileAccess | None
    ) -> None:
        super().__init__(profile, repository, access)
        self.database = database

    def replace_repository(self, repository: Repository) -> None:
        """Point the context at a new container (``_clear`` swaps the folder of the container)."""
        self._repository = repository

    @property
    def in_transaction(self) -> bool:
        return not self.database.closed and self.database.in_transaction

    @property
    def owns_transactions(self) -> bool:
        return True

    def connection(self) -> AbstractContextManager[db.Connection]:
        return self.database.connection()

    def transaction(self) -> AbstractContextManager[db.Connection]:
        return self.database.transaction()

    def check_open(self) -> None:
        if self.database.closed:
            raise ClosedStorage(f"the storage of profile {self._profile.name!r} is closed")


class BorrowedContext(_StorageParts):
    """A psycopg connection someone else holds, used inside their transaction.

    The connection must not be in autocommit mode (there would be no transaction to work inside). If no
    transaction is open yet, the first statement opens one implicitly, as psycopg does for the owner; it
    stays open for the owner to commit or roll back. fastdos' units of work are savepoints in it.
    """

    def __init__(
        self,
        conn: db.Connection,
        profile: Profile,
        repository: Repository,
        access: ProfileAccess | None = None,
    ) -> None:
        if conn.autocommit:
            raise ValueError("a borrowed connection must not be in autocommit mode: fastdos works in its transaction")
        super().__init__(profile, repository, access)
        self._conn = conn

    @property
    def in_transaction(self) -> bool:
        return True

    @property
    def owns_transactions(self) -> bool:
        return False

    @contextmanager
    def connection(self) -> Iterator[db.Connection]:
        self._ready()
        yield self._conn

    @contextmanager
    def transaction(self) -> Iterator[db.Connection]:
        self._ready()
        if self._conn.info.transaction_status == pq.TransactionStatus.IDLE:
            # Open the owner's transaction the way its own next statement would, so that the block below is
            # a savepoint (psycopg turns an outermost block on an idle connection into BEGIN ... COMMIT).
            db.run(self._conn, "context/open_transaction")
        with db.savepoint(self._conn, "borrowed/savepoint"):
            yield self._conn

    def _ready(self) -> None:
        if self._conn.closed:
            raise ClosedStorage("the borrowed connection is closed")
        if self._conn.info.transaction_status == pq.TransactionStatus.INERROR:
            raise DatabaseError("the borrowed connection's transaction has failed; its owner must roll it back first")

    def check_open(self) -> None:
        if self._conn.closed:
            raise ClosedStorage("the borrowed connection is closed")


class HasContext(Protocol):
    """Anything that carries a storage context (``fastdos.Backend``, the aiida plugin's backend)."""

    @property
    def context(self) -> StorageContext:
        """The context its services run on."""


def context_of(storage: StorageContext | HasContext) -> StorageContext:
    """The context of ``storage``: the functions that take "a storage" accept a Backend or a bare context."""
    inner = getattr(storage, "context", None)
    return inner if inner is not None else storage  # type: ignore[return-value]
