"""Reader of AiiDA archives (``sqlite_zip`` format, version ``main_0001``), streaming, standard library only.

An archive is a zip holding ``metadata.json`` (``export_version``, ``key_format``), ``db.sqlite3`` (the
psql_dos tables in SQLite: uuids as 36-character text, timestamps as naive UTC text, JSON as text) and
``repo/<sha256 key>``, one member per repository object.

SQLite cannot open a file inside a zip, so ``db.sqlite3`` is copied out to a temporary file in fixed-size
chunks (bounded memory whatever its size) and opened read-only. Rows are read with ``fetchmany`` in
batches, never whole tables. Repository objects are read straight from the zip member streams.

Every way the file can be unreadable raises :class:`ArchiveError` naming the problem (not a zip, truncated,
no ``metadata.json``, corrupt SQLite); another version raises :class:`IncompatibleArchiveVersion`.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from .errors import FastdosError, IncompatibleStorageSchema

ARCHIVE_VERSION = "main_0001"
KEY_FORMAT = "sha256"
# Chunk of the streamed copy of db.sqlite3 out of the zip: 1 MiB keeps the copy at disk speed with
# constant memory (larger chunks measured no faster on the 2-core test machine).
COPY_CHUNK = 1 << 20
# Rows per fetchmany from SQLite; the importer's own batches are built from these.
FETCH_BATCH = 10_000

TABLES = (
    "db_dbuser",
    "db_dbcomputer",
    "db_dbauthinfo",
    "db_dbnode",
    "db_dblink",
    "db_dbgroup",
    "db_dbgroup_dbnodes",
    "db_dbcomment",
    "db_dblog",
)

# The SQLite statements, complete and fixed (no identifiers are ever formatted in).
QUERIES: dict[str, str] = {
    "tables": "SELECT name FROM sqlite_master WHERE type = 'table'",
    "count/db_dbuser": "SELECT count(*) FROM db_dbuser",
    "count/db_dbcomputer": "SELECT count(*) FROM db_dbcomputer",
    "count/db_dbauthinfo": "SELECT count(*) FROM db_dbauthinfo",
    "count/db_dbnode": "SELECT count(*) FROM db_dbnode",
    "count/db_dblink": "SELECT count(*) FROM db_dblink",
    "count/db_dbgroup": "SELECT count(*) FROM db_dbgroup",
    "count/db_dbgroup_dbnodes": "SELECT count(*) FROM db_dbgroup_dbnodes",
    "count/db_dbcomment": "SELECT count(*) FROM db_dbcomment",
    "count/db_dblog": "SELECT count(*) FROM db_dblog",
    "users": "SELECT id, email, first_name, last_name, institution FROM db_dbuser ORDER BY id",
    "computers": "SELECT id, uuid, label, hostname, description, scheduler_type, transport_type, metadata"
    " FROM db_dbcomputer ORDER BY id",
    "authinfos": "SELECT id, aiidauser_id, dbcomputer_id, metadata, auth_params, enabled"
    " FROM db_dbauthinfo ORDER BY id",
    "nodes": "SELECT id, uuid, node_type, process_type, label, description, ctime, mtime, attributes, extras,"
    " repository_metadata, dbcomputer_id, user_id FROM db_dbnode ORDER BY id",
    "node_extras": "SELECT id, extras FROM db_dbnode ORDER BY id",
    "links": "SELECT id, input_id, output_id, label, type FROM db_dblink ORDER BY id",
    "groups": "SELECT id, uuid, label, type_string, time, description, extras, user_id FROM db_dbgroup ORDER BY id",
    "group_nodes": "SELECT dbgroup_id, dbnode_id FROM db_dbgroup_dbnodes ORDER BY id",
    "comments": "SELECT id, uuid, dbnode_id, ctime, mtime, user_id, content FROM db_dbcomment ORDER BY id",
    "logs": "SELECT id, uuid, time, loggername, levelname, dbnode_id, message, metadata FROM db_dblog ORDER BY id",
    # Every object key of every node's repository_metadata tree (spec §2.7), each once. A file entry is
    # {"k": "<key>"}; a directory is {"o": {...}}, so a text value under the member name "k" is always a key.
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
        self._sqlite = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
        found = {str(name) for (name,) in self._query("tables")}
        missing = [table for table in TABLES if table not in found]
        if missing:
            raise ArchiveError(f"{self.path}: the archive database lacks the tables {missing}")

    # --- reading -----------------------------------------------------------------------------------------

    def _query(self, name: str) -> Iterator[tuple[Any, ...]]:
        """Rows of the fixed query ``name``, fetched in batches; SQLite errors become ``ArchiveError``."""
        if self._sqlite is None:
            raise ArchiveError("the archive is closed")
        try:
            cursor = self._sqlite.execute(QUERIES[name])
            while rows := cursor.fetchmany(FETCH_BATCH):
                yield from rows
        except sqlite3.Error as exc:
            raise ArchiveError(f"{self.path}: the archive database is corrupt ({exc})") from exc

    def batches(self, name: str, size: int = FETCH_BATCH) -> Iterator[list[tuple[Any, ...]]]:
        """Rows of the fixed query ``name`` (see :data:`QUERIES`) in lists of at most ``size``."""
        batch: list[tuple[Any, ...]] = []
        for row in self._query(name):
            batch.append(row)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    def rows(self, name: str) -> Iterator[tuple[Any, ...]]:
        """Rows of the fixed query ``name``, streamed."""
        return self._query(name)

    def count(self, table: str) -> int:
        """Row count of an archive table."""
        return int(next(self._query(f"count/{table}"))[0])

    def object_key_count(self) -> int:
        """Number of distinct object keys referenced by the archive's nodes."""
        return int(next(self._query("object_key_count"))[0])

    def object_keys(self) -> Iterator[str]:
        """Every distinct object key referenced by the archive's nodes, streamed."""
        return (str(key) for (key,) in self._query("object_keys"))

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
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
