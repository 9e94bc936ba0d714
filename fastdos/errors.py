"""The exception tree of fastdos and the one place where psycopg errors are converted.

The class names and their parents follow aiida-core's ``aiida.common.exceptions`` (docs/storage-backend.md#exceptions),
so code written against aiida's storage backend can catch the same things: ``UnreachableStorage``, ``CorruptStorage``
and ``IncompatibleStorageSchema`` are all ``ConfigurationError``; ``StorageMigrationError`` is not.
"""

from __future__ import annotations

import re

import psycopg
import psycopg_pool


class FastdosError(Exception):
    """Base of every error fastdos raises on purpose (aiida: ``AiidaException``)."""


class ConfigurationError(FastdosError):
    """A profile or its storage configuration is wrong."""


class UnreachableStorage(ConfigurationError):
    """The database or the repository cannot be reached."""


class IncompatibleDatabaseSchema(ConfigurationError):
    """The database schema is not the one this version of fastdos works with."""


class IncompatibleStorageSchema(IncompatibleDatabaseSchema):
    """The storage schema is not at the head revision (or has no known version)."""


class CorruptStorage(ConfigurationError):
    """Database and repository disagree (for example on the repository UUID)."""


class DatabaseMigrationError(FastdosError):
    """A schema migration failed."""


class StorageMigrationError(DatabaseMigrationError):
    """The storage cannot be migrated (uninitialised, unreadable version, ...)."""


class ClosedStorage(FastdosError):
    """The backend was used after ``close()``."""


class IntegrityError(FastdosError):
    """Rows were refused: wrong key sets, or a database constraint was violated.

    ``constraint`` names the violated database constraint when there is one.
    """

    def __init__(self, message: str, *, constraint: str | None = None) -> None:
        super().__init__(message)
        self.constraint = constraint


class KeySetError(IntegrityError):
    """Rows with the wrong keys: aiida-core's message, plus the unknown and missing keys by name.

    ``str()`` is aiida-core's text (what code written for aiida matches); ``detail`` says what is wrong in a few
    words, and the fastdos CLI prints it after the message.
    """

    def __init__(self, message: str, *, unknown: list[str], missing: list[str]) -> None:
        super().__init__(message)
        self.unknown_keys = unknown
        self.missing_keys = missing
        parts = [f"unknown keys: {unknown}"] if unknown else []
        parts += [f"missing keys: {missing}"] if missing else []
        self.detail = "; ".join(parts)


class ValidationError(FastdosError):
    """An argument has the right type but a value that is not allowed."""


class NotExistent(FastdosError):
    """A requested entity does not exist."""


class MultipleObjectsError(FastdosError):
    """A lookup that should match one entity matched several."""


class DatabaseError(FastdosError):
    """Any other database error, with the name of the query that raised it."""


class LockingProfileError(FastdosError):
    """The profile cannot be locked because another process uses it."""


class LockedProfileError(FastdosError):
    """The profile is locked by another process."""


class StorageBackupError(FastdosError):
    """A backup could not be made."""


# aiida-core's contract raises RuntimeError in these places, so they keep it as a second base: callers written
# for aiida catch them, and the fastdos CLI reports them like every other FastdosError.


class ClosureError(FastdosError, RuntimeError):
    """The closure table is not installed, or not current where it was required."""


class ClosureBudgetExceeded(ClosureError):
    """A rebuild of the closure table would create more rows than the row budget allows."""


class MissingObjectsError(FastdosError, RuntimeError):
    """The database references repository objects that the container does not hold."""


class TransactionStateError(FastdosError, RuntimeError):
    """An operation was called in a transaction state it cannot run in (e.g. maintain inside transaction())."""


# Passwords can appear in connection strings that psycopg quotes back in some messages.
_PASSWORD_PATTERNS = (
    re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE),
    re.compile(r"(://[^:/@\s]+:)([^@\s]*)(@)"),
)


def scrub(text: str, *secrets: str | None) -> str:
    """Return ``text`` with passwords (in conninfo/URL form, and the given literal secrets) masked."""
    text = _PASSWORD_PATTERNS[0].sub(r"\1***", text)
    text = _PASSWORD_PATTERNS[1].sub(r"\1***\3", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def convert(exc: Exception, query_name: str, *secrets: str | None) -> FastdosError:
    """Turn a psycopg / pool exception raised while running ``query_name`` into a fastdos error.

    This is the only place that maps SQLSTATE classes to fastdos errors (docs/house-style.md#errors). Constraint
    violations (class 23) become ``IntegrityError`` naming the constraint; connection failures (class 08,
    ``OperationalError``, pool timeouts) become ``UnreachableStorage``.
    """
    if isinstance(exc, FastdosError):
        return exc
    message = scrub(str(exc).strip(), *secrets)
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return UnreachableStorage(f"{query_name}: no database connection available: {message}")
    if isinstance(exc, psycopg.Error):
        sqlstate = exc.sqlstate or ""
        if sqlstate.startswith("23"):
            constraint = exc.diag.constraint_name
            detail = scrub(exc.diag.message_detail or "", *secrets)
            text = f"{query_name}: {message.splitlines()[0]}"
            if detail:
                text += f" ({detail})"
            return IntegrityError(text, constraint=constraint)
        # 57P01-57P05: the server ended the session (shutdown, crash recovery, starting up): as unreachable as
        # a lost connection, and a retry after the restart succeeds (the pool checks connections on checkout).
        lost = sqlstate.startswith(("08", "57P"))
        if lost or (isinstance(exc, psycopg.OperationalError) and not sqlstate):
            return UnreachableStorage(f"Could not connect to database: {message}")
        return DatabaseError(f"{query_name}: {message}")
    return DatabaseError(f"{query_name}: {type(exc).__name__}: {message}")
