"""The repository objects of an export: their keys, the check that all exist, and their copy into the zip.

Objects are read with disk-objectstore's ``get_objects_stream_and_meta``, which visits them in pack order
(one sequential pass over each pack file, loose objects apart), and each becomes the zip member
``repo/<key>``, as aiida-core's writer names them. The copy runs in a thread of its own beside the SQLite
load (zlib and file I/O release the GIL, so on two cores the two overlap); the zip is touched by that thread
only until it is joined.
"""

from __future__ import annotations

import shutil
import time
import zipfile
from typing import Any

from .. import db
from ..background import BackgroundWork
from ..ids import array_literal as array
from ..repository import Repository
from . import deflate
from .report import ExportError
from .selection import Selection

# Objects up to this size are read whole and written with one ``writestr`` (fewer Python calls per object);
# larger ones are streamed in chunks of the same size, so memory stays bounded whatever the object.
WHOLE_OBJECT = 1 << 20
MAX_NAMED = 5


def object_keys(conn: db.Connection, selection: Selection) -> list[str]:
    """Every distinct object key of the nodes' ``repository_metadata`` (sorted, so the order is fixed)."""
    if not selection.nodes:
        return []
    params = {"everything": selection.everything, "ids": selection.node_array}
    return sorted(str(r[0]) for r in db.all_rows(conn, "export/object_keys", params))


def check_objects(conn: db.Connection, repository: Repository, selection: Selection, keys: list[str]) -> None:
    """Raise :class:`ExportError` naming the node and key of every object missing from the container.

    Checked before anything is written (one bulk lookup), so a missing object never leaves a partial archive.
    """
    if not keys:
        return
    missing = [key for key, found in zip(keys, repository.has_objects(keys), strict=True) if not found]
    if not missing:
        return
    rows = db.all_rows(conn, "export/nodes_of_keys", {"ids": array(selection.nodes), "keys": missing})
    named = [f"node {pk} ({uuid}) references object {key}" for pk, uuid, key in rows[:MAX_NAMED]]
    more = f" and {len(missing) - MAX_NAMED} more missing objects" if len(missing) > MAX_NAMED else ""
    raise ExportError(
        f"{len(missing)} repository object(s) missing from the container {repository.path}: {'; '.join(named)}{more}"
    )


class ObjectCopy(BackgroundWork):
    """Copies the objects ``keys`` from the repository into ``archive`` as ``repo/<key>``, in pack order."""

    def __init__(self, repository: Repository, keys: list[str], archive: zipfile.ZipFile, compression: int) -> None:
        super().__init__("fastdos-export-objects")
        self._repository = repository
        self.keys = keys
        self._zip = archive
        self._method = zipfile.ZIP_DEFLATED if compression else zipfile.ZIP_STORED
        self._level = compression

    def work(self) -> None:
        """The copy; a cancel stops it after the current object."""
        if not self.keys:
            return
        container = self._repository.container
        with container.get_objects_stream_and_meta(self.keys, skip_if_missing=False) as triplets:
            for key, stream, meta in triplets:
                if self.cancelled:
                    return
                if stream is None:
                    raise ExportError(f"repository object {key} disappeared from the container during the export")
                self._write(key, stream, meta.size)
                self.done += 1

    def _write(self, key: str, stream: Any, size: int | None) -> None:
        # As aiida-core's writer: one member per object, named by its key, the archive's compression level,
        # the time of writing (local time, as zipfile stamps it).
        stamp = time.localtime(time.time())[0:6]
        if size is not None and size <= WHOLE_OBJECT:
            deflate.add_bytes(self._zip, f"repo/{key}", stream.read(), self._level, stamp)
            return
        info = zipfile.ZipInfo(f"repo/{key}", date_time=stamp)
        info.compress_type = self._method
        info.external_attr = 0o600 << 16  # rw-------, as zipfile gives the members aiida-core's writer opens
        info._compresslevel = self._level  # type: ignore[attr-defined]  # zipfile reads it for open("w")
        if size is not None:
            info.file_size = int(size)
        with self._zip.open(info, mode="w", force_zip64=size is None) as sink:
            shutil.copyfileobj(stream, sink, WHOLE_OBJECT)
