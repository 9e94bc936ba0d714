"""Reader of AiiDA archives (``sqlite_zip`` format, version ``main_0001``), streaming, standard library only.

An archive is a zip holding ``metadata.json`` (``export_version``, ``key_format``), ``db.sqlite3`` (the
psql_dos tables in SQLite: uuids as 36-character text, timestamps as naive UTC text, JSON as text) and
``repo/<sha256 key>``, one member per repository object.

SQLite cannot open a file inside a zip, so ``db.sqlite3`` is copied out to a temporary file in fixed-size
chunks (bounded memory whatever its size) and opened read-only. Rows are read with ``fetchmany`` in
batches, never whole tables, as named rows whose fields are the catalog's columns (:mod:`fastdos.catalog`:
the archive's tables have the psql_dos columns, docs/archive-format.md#database). Repository objects are read
straight from the zip member streams.

Every way the file can be unreadable raises :class:`ArchiveError` naming the problem (not a zip, truncated,
no ``metadata.json``, corrupt SQLite); another version raises :class:`IncompatibleArchiveVersion`.
"""

from __future__ import annotations

import functools
import json
import shutil
import sqlite3
import tempfile
import zipfile
import zlib
from collections import namedtuple
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from . import catalog
from .errors import FastdosError, IncompatibleStorageSchema

ARCHIVE_VERSION = "main_0001"
KEY_FORMAT = "sha256"
# Chunk of the streamed copy of db.sqlite3 out of the zip: 1 MiB keeps the copy at disk speed with
# constant memory (larger chunks measured no faster on the 2-core test machine).
COPY_CHUNK = 1 << 20
# Rows per fetchmany from SQLite; the importer's own batches are built from these.
FETCH_BATCH = 10_000

# The archive tables the import reads (every psql_dos table but the settings), in dependency order.
TABLES = tuple(t.name for t in catalog.TABLES.values() if t.entity_type is not None)

# What the importer reads, by name: the whole table in id order, every column, as named rows.
READS: dict[str, str] = {
    "users": "db_dbuser",
    "computers": "db_dbcomputer",
    "authinfos": "db_dbauthinfo",
    "nodes": "db_dbnode",
    "links": "db_dblink",
    "groups": "db_dbgroup",
    "group_nodes": "db_dbgroup_dbnodes",
    "comments": "db_dbcomment",
    "logs": "db_dblog",
}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select_all(table: catalog.Table) -> str:
    """``SELECT <every catalog column> FROM <table> ORDER BY id``: the archive has the psql_dos columns."""
    columns = ", ".join(_quoted(c.name) for c in table.columns)
    return " ".join(("SELECT", columns, "FROM", _quoted(table.name), "ORDER BY", _quoted(table.primary_key)))


def _count(table: str) -> str:
    return " ".join(("SELECT count(*) FROM", _quoted(table)))


# The named-row type of each read: a namedtuple of the table's columns in catalog order (attribute access by
# column name, e.g. ``row.user_id``; positions stay those of the catalog).
ROW_TYPES: dict[str, Any] = {
    name: namedtuple(f"{table}_row", [c.name for c in catalog.table(table).columns]) for name, table in READS.items()
}

# The SQLite statements, fixed when the module loads: names come from the catalog only, never from a caller.
QUERIES: dict[str, str] = {
    "tables": "SELECT name FROM sqlite_master WHERE type = 'table'",
    **{f"count/{table}": _count(table) for table in TABLES},
    **{name: _select_all(catalog.table(table)) for name, table in READS.items()},
    # Every object key of every node's repository_metadata tree, each once (docs/repository.md#repository_metadata):
    # a file entry is {"k": "<key>"}, a directory is {"o": {...}}, so a text value under the member name "k" is
    # always a key.
    "object_keys": "SELECT DISTINCT j.value FROM db_dbnode AS n, json_tree(n.repository_metadata) AS j"
    " WHERE j.key = 'k' AND j.type = 'text'",
    "object_key_count": "SELECT count(*) FROM (SELECT DISTINCT j.value FROM db_dbnode AS n,"
    " json_tree(n.repository_metadata) AS j WHERE j.key = 'k' AND j.type = 'text')",
}


class ArchiveError(FastdosError):
    """The file is not a readable AiiDA archive (not a zip, truncated, incomplete, corrupt database)."""


class IncompatibleArchiveVersion(ArchiveError, IncompatibleStorageSchema):
    """The archive is of another format version than ``main_0001`` (aiida: ``IncompatibleStorageSchema``)."""


class ImportValidationError(ArchiveError):
    """The archive's content breaks a rule of the import (links, unknown users/computers/nodes, object keys)."""


class ImportUniquenessError(ImportValidationError):
    """A unique value cannot be created (aiida's ``ImportUniquenessError``), e.g. a label cannot be renamed."""


class ArchiveReader:
    """An open archive: its metadata, its SQLite database (a temporary copy) and its repository objects.

    Use as a context manager; :meth:`close` removes the temporary copy.
    """

    def __init__(self, path: str | Path, *, tmpdir: str | Path | None = None) -> None:
        """Open ``path``: check the zip, read and check ``metadata.json``, copy out and open ``db.sqlite3``.

        :raises ArchiveError: not a zip, truncated, no ``metadata.json``/``db.sqlite3``, corrupt SQLite.
        :raises IncompatibleArchiveVersion: ``export_version`` is not ``main_0001``.
        """
        self.path = Path(path)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._sqlite: sqlite3.Connection | None = None
        self._counts: dict[str, int] = {}
        self._database: Path | None = None
        if not self.path.is_file():
            raise ArchiveError(f"archive {self.path} does not exist or is not a file")
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ArchiveError(f"{self.path} is not an AiiDA archive: not a readable zip file ({exc})") from exc
        try:
            self.metadata = self._read_metadata()
            self._open_database(tmpdir)
        except BaseException:
            self.close()
            raise

    # --- opening -----------------------------------------------------------------------------------------

    def _read_metadata(self) -> dict[str, Any]:
        try:
            raw = self._zip.read("metadata.json")
        except KeyError:
            raise ArchiveError(f"{self.path} is not an AiiDA archive: the zip has no metadata.json") from None
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            raise ArchiveError(f"{self.path}: metadata.json cannot be read, the zip is damaged ({exc})") from exc
        try:
            metadata = json.loads(raw)
        except ValueError as exc:
            raise ArchiveError(f"{self.path}: metadata.json is not valid JSON ({exc})") from exc
        if not isinstance(metadata, dict):
            raise ArchiveError(f"{self.path}: metadata.json is not a JSON object")
        version = metadata.get("export_version")
        if version != ARCHIVE_VERSION:
            raise IncompatibleArchiveVersion(
                f"{self.path} is an AiiDA archive of version {version!r}; fastdos imports version "
                f"{ARCHIVE_VERSION!r} only. Convert it with `verdi archive migrate {self.path.name} NEW.aiida` "
                "(aiida-core) and import the result."
            )
        key_format = metadata.get("key_format", KEY_FORMAT)
        if key_format != KEY_FORMAT:
            raise ArchiveError(f"{self.path}: repository key format {key_format!r} is not supported (only sha256)")
        return metadata

    def _open_database(self, tmpdir: str | Path | None) -> None:
        try:
            info = self._zip.getinfo("db.sqlite3")
        except KeyError:
            raise ArchiveError(f"{self.path} is not a complete AiiDA archive: the zip has no db.sqlite3") from None
        self._tmp = tempfile.TemporaryDirectory(prefix="fastdos-archive-", dir=tmpdir)
        target = Path(self._tmp.name) / "db.sqlite3"
        try:
            with self._zip.open(info) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink, COPY_CHUNK)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise ArchiveError(
                f"{self.path}: db.sqlite3 cannot be read, the zip is truncated or damaged ({exc})"
            ) from exc
        self._database = target
        self._sqlite = self._connect()
        found = {str(name) for (name,) in self._query("tables")}
        missing = [table for table in TABLES if table not in found]
        if missing:
            raise ArchiveError(f"{self.path}: the archive database lacks the tables {missing}")

    # --- reading -----------------------------------------------------------------------------------------

    def _query(self, name: str, connection: sqlite3.Connection | None = None) -> Iterator[Any]:
        """Rows of the fixed query ``name``, fetched in batches; SQLite errors become ``ArchiveError``.

        The rows of a table read (:data:`READS`) are named rows (:data:`ROW_TYPES`), others plain tuples.
        ``connection`` is another connection to the same database (one of another thread).
        """
        if self._sqlite is None:
            raise ArchiveError("the archive is closed")
        row_type = ROW_TYPES.get(name)
        # tuple.__new__ of the namedtuple type: half the cost of its _make (0.33 vs 0.69 us a node row, measured),
        # whose length check the SELECT list, built from the same columns, makes redundant.
        named = functools.partial(tuple.__new__, row_type) if row_type is not None else None
        try:
            cursor = (connection or self._sqlite).execute(QUERIES[name])
            while rows := cursor.fetchmany(FETCH_BATCH):
                if named is None:
                    yield from rows
                else:
                    yield from map(named, rows)
        except sqlite3.Error as exc:
            raise ArchiveError(f"{self.path}: the archive database is corrupt ({exc})") from exc

    def batches(self, name: str, size: int = FETCH_BATCH) -> Iterator[list[Any]]:
        """Named rows of the read ``name`` (see :data:`READS`) in lists of at most ``size``."""
        batch: list[Any] = []
        for row in self._query(name):
            batch.append(row)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    def rows(self, name: str) -> Iterator[Any]:
        """Named rows of the read ``name`` (see :data:`READS`), streamed."""
        return self._query(name)

    def count(self, table: str) -> int:
        """Row count of an archive table (counted once: the archive is read-only)."""
        if table not in self._counts or self._sqlite is None:
            self._counts[table] = int(next(self._query(f"count/{table}"))[0])
        return self._counts[table]

    def object_key_count(self) -> int:
        """Number of distinct object keys referenced by the archive's nodes."""
        return int(next(self._query("object_key_count"))[0])

    def object_keys(self) -> Iterator[str]:
        """Every distinct object key referenced by the archive's nodes, streamed.

        Read on a connection of its own, opened in the thread that iterates (the import reads the keys in a
        thread beside the database stages; a SQLite connection belongs to the thread that opened it).
        """
        if self._sqlite is None or self._database is None:
            raise ArchiveError("the archive is closed")
        connection = self._connect()
        try:
            yield from (str(key) for (key,) in self._query("object_keys", connection))
        finally:
            connection.close()

    def _connect(self) -> sqlite3.Connection:
        if self._database is None:
            raise ArchiveError("the archive is closed")
        return sqlite3.connect(f"file:{self._database}?mode=ro", uri=True)

    def has_object(self, key: str) -> bool:
        """Whether the zip holds ``repo/<key>``."""
        try:
            self._zip.getinfo(f"repo/{key}")
        except KeyError:
            return False
        return True

    def open_object(self, key: str) -> IO[bytes]:
        """A binary stream of the object ``key``; ``ImportValidationError`` when the archive lacks it."""
        try:
            return self._zip.open(f"repo/{key}")
        except KeyError:
            raise ImportValidationError(
                f"{self.path}: a node references the repository object {key} but the archive has no repo/{key}"
            ) from None
        except (zipfile.BadZipFile, OSError) as exc:
            raise ArchiveError(f"{self.path}: repo/{key} cannot be read, the zip is damaged ({exc})") from exc

    # --- lifecycle ---------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database and the zip and delete the temporary copy (idempotent)."""
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
        zip_file = getattr(self, "_zip", None)
        if zip_file is not None:
            zip_file.close()
        self._database = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
