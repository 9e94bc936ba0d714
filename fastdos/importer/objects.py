"""The repository stage: the objects the archive's nodes reference and the container lacks, keys checked.

Objects go straight into pack files when the profile's exclusive lock is held (one index commit per pack
instead of a loose file per object, aiida-core#6417; disk-objectstore allows one pack writer at a time),
else as loose objects. Each object's key, as the container computes it from the content, must equal the
archive's key. Objects written by an import that then fails stay unreferenced until ``maintain``.
"""

from __future__ import annotations

import io
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

from ..archive import ArchiveReader, ImportValidationError
from ..errors import ValidationError
from .run import ImportRun

if TYPE_CHECKING:
    from ..repository import Repository

# Repository objects per existence check and per pack write: one has_objects query and one index commit
# per 1 000 objects; the streams are opened lazily, one at a time, so the batch costs no memory per object.
OBJECT_BATCH = 1_000


def repository(run: ImportRun, *, write: bool) -> None:
    """Copy the objects the archive's nodes reference and the container lacks; keys checked."""
    repo = run.ctx.repository
    if repo.key_format != "sha256":
        raise ValidationError(f"the repository's key format {repo.key_format!r} is not sha256")
    total = run.reader.object_key_count()
    with run.stage("repository", total) as stage:
        packed = run.exclusive
        done = 0
        batch: list[str] = []
        for key in run.reader.object_keys():
            batch.append(key)
            if len(batch) >= OBJECT_BATCH:
                stage.new += _objects(run.reader, repo, batch, write=write, packed=packed)
                done += len(batch)
                run.progress("repository", done, total)
                batch = []
        if batch:
            stage.new += _objects(run.reader, repo, batch, write=write, packed=packed)
        stage.existing = total - stage.new
        if write and stage.new:
            run.report.objects_mode = "packed" if packed else "loose"
            stage.extra = f"written {run.report.objects_mode}"


def _objects(reader: ArchiveReader, repo: Repository, keys: list[str], *, write: bool, packed: bool) -> int:
    """Write the objects of ``keys`` that the container lacks; return how many it lacked."""
    missing = [key for key, found in zip(keys, repo.has_objects(keys), strict=True) if not found]
    absent = [key for key in missing if not reader.has_object(key)]
    if absent:
        raise ImportValidationError(
            f"{reader.path}: nodes reference repository objects the archive does not hold: {absent[:5]}"
        )
    if not write or not missing:
        return len(missing)
    streams = [ObjectStream(reader, key) for key in missing]
    if packed:
        written = repo.put_objects_to_pack(cast(list[BinaryIO], streams))
    else:
        written = []
        for stream in streams:
            written.append(repo.put_object_from_filelike(cast(BinaryIO, stream)))
    for key, got in zip(missing, written, strict=True):
        if got != key:
            raise ImportValidationError(
                f"{reader.path}: the content of repository object repo/{key} does not match its key "
                f"(its sha256 is {got}); the archive is corrupt"
            )
    return len(missing)


class ObjectStream(io.RawIOBase):
    """A zip member opened on first read and closed at its end: a batch of them costs no memory up front."""

    def __init__(self, reader: ArchiveReader, key: str) -> None:
        super().__init__()
        self._reader, self.key = reader, key
        self._handle: IO[bytes] | None = None
        self._done = False
        self.mode = "rb"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._done:
            return 0
        if self._handle is None:
            self._handle = self._reader.open_object(self.key)
        data = self._handle.read(len(buffer))
        if not data:
            self._finish()
            return 0
        buffer[: len(data)] = data
        return len(data)

    def _finish(self) -> None:
        self._done = True
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def close(self) -> None:
        self._finish()
        super().close()
