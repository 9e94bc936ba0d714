"""The archive file: ``db.sqlite3`` filled from PostgreSQL by binary COPY, then the zip laid out as aiida-core's.

aiida-core's writer (aiida/tools/archive/implementations/sqlite_zip/writer.py) streams ``repo/<key>``
members into the zip while it fills a SQLite file in a work folder; on close it appends ``db.sqlite3``
(compressed at the archive's level) and ``metadata.json`` (stored), and its zip library writes the central
directory with those two first, so a reader finds the metadata within the first records. This module
produces the same layout: objects, then the database, then the metadata, with the central directory
reordered to metadata, database, objects.

Rows leave PostgreSQL by ``COPY (SELECT ...) TO STDOUT (FORMAT BINARY)`` (values already in the archive's
text forms: uuids, naive UTC times, JSON text) and go into SQLite with prepared ``executemany`` in one
transaction, in batches of fixed size. The secondary indexes are built once after the load. Memory is
bounded by one batch, whatever the size of the archive.

Safety: both the SQLite file and the zip are temporary files beside the destination; the zip is renamed
into place only when complete (``os.link`` when overwriting is not allowed, so an existing file is never
replaced by a race), and every failure removes both.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import sqlite3
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from .. import db, queries
from ..ids import array_literal as array
from . import deflate
from .report import ExportError
from .selection import Selection

# Rows per executemany batch: 5,000 node rows are ~3 MB, a fixed bound on what the export holds of the rows.
BATCH_ROWS = 5000
# SQLite page cache of the work database (KiB, negative = KiB in SQLite's PRAGMA): a fixed cap keeps memory
# flat whatever the archive size; the index build after the load is the part that benefits from it.
SQLITE_CACHE_KIB = 16384
COPY_CHUNK = 1 << 20
# Unix mode bits of every member (rw-------), what zipfile gives the members aiida-core's writer opens.
MEMBER_MODE = 0o600 << 16

# (PostgreSQL COPY query, binary types of its columns, SQLite insert, id array(s) it takes)
ENTITY_SOURCES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "users": ("export/users", ("int4", "text", "text", "text", "text"), "export/sqlite/insert_users"),
    "computers": ("export/computers", ("int4",) + ("text",) * 7, "export/sqlite/insert_computers"),
    "authinfos": (
        "export/authinfos",
        ("int4", "int4", "int4", "text", "text", "bool"),
        "export/sqlite/insert_authinfos",
    ),
    "groups": ("export/groups", ("int4",) + ("text",) * 6 + ("int4",), "export/sqlite/insert_groups"),
    "nodes": ("export/nodes", ("int4",) + ("text",) * 10 + ("int4", "int4"), "export/sqlite/insert_nodes"),
    "comments": (
        "export/comments",
        ("int4", "text", "int4", "text", "text", "int4", "text"),
        "export/sqlite/insert_comments",
    ),
    "logs": (
        "export/logs",
        ("int4", "text", "text", "text", "text", "int4", "text", "text"),
        "export/sqlite/insert_logs",
    ),
    "group_nodes": ("export/group_nodes", ("int4", "int4"), "export/sqlite/insert_group_nodes"),
    "links": ("export/links", ("int4", "int4", "text", "text"), "export/sqlite/insert_links"),
}

Progress = Callable[[str, int, int], None]


def entity_params(selection: Selection, entity: str) -> dict[str, Any] | None:
    """The parameters of the COPY of ``entity``, or None when the selection writes none of its rows."""
    if not selection.counts.get(entity):
        return None
    if entity in ("users", "computers", "groups"):
        ids = {"users": selection.users, "computers": selection.computers, "groups": selection.groups}[entity]
        return {"ids": array(ids)}
    if entity == "authinfos":
        return {"computer_ids": array(selection.computers)}
    if entity == "group_nodes":
        return {"group_ids": array(selection.groups)}
    return {"everything": selection.everything, "ids": selection.node_array}  # nodes, comments, logs, links


class Database:
    """The archive's ``db.sqlite3`` under construction (a temporary file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sqlite = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        try:
            # A throwaway file until it is zipped: no journal, no fsync; a fixed page cache (memory stays flat).
            for pragma in (
                "PRAGMA journal_mode = OFF",
                "PRAGMA synchronous = OFF",
                "PRAGMA locking_mode = EXCLUSIVE",
                f"PRAGMA cache_size = -{SQLITE_CACHE_KIB:d}",
            ):
                self._sqlite.execute(pragma)
            self._sqlite.executescript(queries.get("export/sqlite/schema").text)
            self._sqlite.execute("BEGIN")
        except BaseException:
            self._sqlite.close()  # a traceback kept alive must not keep the file open
            raise

    def load(self, conn: db.Connection, selection: Selection, progress: Progress) -> dict[str, float]:
        """Copy every entity of ``selection`` from PostgreSQL; return the seconds per entity."""
        seconds: dict[str, float] = {}
        for entity, (name, types, insert) in ENTITY_SOURCES.items():
            params = entity_params(selection, entity)
            if params is None:
                continue
            started = time.perf_counter()
            total = selection.counts[entity]
            progress(entity, 0, total)
            statement = queries.get(insert).text
            done = 0
            for batch in _batches(conn, name, params, types):
                self._sqlite.executemany(statement, batch)
                done += len(batch)
                progress(entity, done, max(total, done))
            if done != total:  # the snapshot makes this impossible, unless a caller's transaction changed rows
                raise ExportError(f"{entity}: expected {total} rows from the database, read {done}")
            seconds[entity] = time.perf_counter() - started
        return seconds

    def finish(self) -> None:
        """Commit the rows, build the secondary indexes, close the file."""
        try:
            self._sqlite.execute("COMMIT")
            self._sqlite.executescript(queries.get("export/sqlite/indexes").text)
        finally:
            self._sqlite.close()

    def close(self) -> None:
        """Close without finishing (after a failure)."""
        with suppress(sqlite3.Error):
            self._sqlite.close()


def _batches(conn: db.Connection, name: str, params: dict[str, Any], types: tuple[str, ...]) -> Iterator[list[Any]]:
    """The rows of the COPY ``name`` in lists of :data:`BATCH_ROWS`.

    Read in this thread: a reader thread with a queue measured slower (GIL hand-offs between the parsing and
    the inserting thread cost more than the overlap gained: 7.4 s against 4.8 s at 10^5 nodes,
    bench/notes/export.md); PostgreSQL still works ahead by what the socket buffers hold.
    """
    with db.copy(conn, name, params, types=types) as copy:
        batch: list[Any] = []
        for row in copy.rows():
            batch.append(row)
            if len(batch) >= BATCH_ROWS:
                yield batch
                batch = []
        if batch:
            yield batch


def metadata(
    aiida_version: str,
    compression: int,
    selection: Selection,
    traversal_rules: dict[str, bool],
    ctime: str,
) -> dict[str, Any]:
    """``metadata.json`` with aiida-core's keys in aiida-core's order."""
    return {
        "export_version": "main_0001",
        "aiida_version": aiida_version,
        "key_format": "sha256",
        "compression": compression,
        "ctime": ctime,
        "creation_parameters": {
            "entities_starting_set": selection.starting,
            "include_authinfos": selection.include_authinfos,
            "include_comments": selection.include_comments,
            "include_logs": selection.include_logs,
            "graph_traversal_rules": traversal_rules,
        },
    }


def open_zip(path: Path, compression: int) -> zipfile.ZipFile:
    """The zip being written (``x``: the temporary name is new)."""
    method = zipfile.ZIP_DEFLATED if compression else zipfile.ZIP_STORED
    return zipfile.ZipFile(path, mode="x", compression=method, compresslevel=compression, allowZip64=True)


def close_zip(archive: zipfile.ZipFile, database: Path, meta: dict[str, Any], compression: int) -> None:
    """Append ``db.sqlite3`` and ``metadata.json``, order the central directory as aiida's, close and fsync."""
    stamp = time.localtime(time.time())[0:6]
    deflate.add_file(archive, database, "db.sqlite3", compression, stamp)
    info = zipfile.ZipInfo("metadata.json", date_time=stamp)
    info.external_attr = MEMBER_MODE
    info.compress_type = zipfile.ZIP_STORED  # small: aiida-core stores it uncompressed
    archive.writestr(info, json.dumps(meta).encode("utf8"), compress_type=zipfile.ZIP_STORED)
    first = {"metadata.json": 0, "db.sqlite3": 1}
    archive.filelist.sort(key=lambda item: first.get(item.filename, 2))  # stable: objects keep their order
    archive.close()


@contextmanager
def destination(path: Path, overwrite: bool) -> Iterator[tuple[Path, Path, Callable[[], None]]]:
    """Temporary files beside ``path`` (the zip, the SQLite work file) and a ``commit`` that renames the zip.

    The destination is checked first: its folder must exist and be writable, and an existing file is refused
    unless ``overwrite``. Whatever happens before ``commit``, both temporary files are removed.
    """
    check_destination(path, overwrite)
    token = secrets.token_hex(4)
    partial = path.parent / f".{path.name}.{token}.partial"
    work = path.parent / f".{path.name}.{token}.sqlite3"
    try:
        partial.touch(exist_ok=False)  # fails early on a read-only folder, with the folder named
        partial.unlink()
    except OSError as exc:
        raise ExportError(f"cannot write in the folder {path.parent}: {exc.strerror}") from exc

    def commit() -> None:
        with open(partial, "rb") as handle:  # the content reaches the disk before the name does
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(partial, path)
        else:
            try:
                os.link(partial, path)  # refuses an existing file, even one created meanwhile
            except FileExistsError:
                raise ExportError(f"the output file {path} already exists (use overwrite)") from None
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP):
                    raise
                if path.exists():
                    raise ExportError(f"the output file {path} already exists (use overwrite)") from None
                os.replace(partial, path)
            else:
                partial.unlink()

    try:
        yield partial, work, commit
    except OSError as exc:
        raise write_error(exc, path) from exc
    except sqlite3.Error as exc:
        if "disk is full" in str(exc):
            raise write_error(OSError(errno.ENOSPC, str(exc)), path) from exc
        if "disk I/O error" in str(exc):  # SQLite does not say which: ENOSPC, EFBIG (RLIMIT_FSIZE), EIO
            raise ExportError(
                f"writing the archive database beside {path} failed with a disk I/O error: the disk is full, "
                "a file size limit was reached, or the device failed"
            ) from exc
        raise ExportError(f"writing the archive database beside {path} failed: {exc}") from exc
    finally:
        for leftover in (work, partial):  # after commit the zip has its final name already
            with suppress(FileNotFoundError):
                leftover.unlink()


def check_destination(path: Path, overwrite: bool) -> None:
    """The checks aiida-core makes before it starts, plus the folder (aiida-core creates missing folders
    only at the very end; a missing folder is reported here, before any work)."""
    if path.is_dir():
        raise ExportError(f"the output file {path} exists as a directory")
    if path.exists() and not overwrite:
        raise ExportError(f"the output file {path} already exists (use overwrite)")
    if not path.parent.is_dir():
        raise ExportError(f"the folder {path.parent} of the output file does not exist")


def write_error(exc: OSError, path: Path) -> ExportError:
    """One line for a failed write: disk full and file-size limits said plainly, the destination named."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ExportError(f"no space left on the device of {path.parent} while writing the archive {path.name}")
    if exc.errno == errno.EFBIG:
        return ExportError(f"file size limit reached while writing the archive {path} ({exc.strerror})")
    return ExportError(f"writing the archive {path} failed: {exc.strerror or exc}")
