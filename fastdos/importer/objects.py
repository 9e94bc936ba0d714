"""The repository stage: the objects the archive's nodes reference and the container lacks, keys checked.

Objects go straight into pack files when the profile's exclusive lock is held (one index commit per pack
instead of a loose file per object, aiida-core#6417; disk-objectstore allows one pack writer at a time),
else as loose objects. Each object's key, as the container computes it from the content, must equal the
archive's key. Objects written by an import that then fails stay unreferenced until ``maintain``.

The stage runs in a thread of its own beside the database stages (the objects do not depend on the rows):
the zip reads, hashing and the pack's ``fsync`` overlap with PostgreSQL's work, which at 10^3-10^4 nodes
hid most of the stage (bench/notes/import.md). The main thread waits for it before the COMMIT, reporting its
progress, and raises its error inside the transaction, so a bad object still rolls the whole import back.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

from ..archive import ArchiveReader, ImportValidationError
from ..background import BackgroundWork
from ..errors import ValidationError
from .run import ImportRun

if TYPE_CHECKING:
    from ..repository import Repository

# Repository objects per existence check and per pack write: one has_objects query and one index commit
# per 1 000 objects; the streams are opened lazily, one at a time, so the batch costs no memory per object.
OBJECT_BATCH = 1_000
# How often the main thread reports the progress of the object thread while it waits for it (seconds).
POLL_SECONDS = 0.1


class ObjectImport(BackgroundWork):
    """Writes (or with ``write=False`` only checks) the archive's objects that the container lacks."""

    def __init__(self, reader: ArchiveReader, repository: Repository, *, write: bool, packed: bool) -> None:
        super().__init__("fastdos-import-objects")
        self._reader, self._repository = reader, repository
        self.write, self.packed = write, packed
        self.total = reader.object_key_count()
        self.new = 0

    def work(self) -> None:
        """The objects in batches; a cancel stops after the current batch."""
        batch: list[str] = []
        for key in self._reader.object_keys():
            batch.append(key)
            if len(batch) >= OBJECT_BATCH:
                self._batch(batch)
                batch = []
                if self.cancelled:
                    return
        if batch:
            self._batch(batch)

    def _batch(self, keys: list[str]) -> None:
        self.new += _objects(self._reader, self._repository, keys, write=self.write, packed=self.packed)
        self.done += len(keys)


@contextlib.contextmanager
def beside(run: ImportRun, *, write: bool) -> Iterator[ObjectImport]:
    """Start the object thread for the block (the database stages); cancelled and joined if the block fails."""
    repo = run.ctx.repository
    if repo.key_format != "sha256":
        raise ValidationError(f"the repository's key format {repo.key_format!r} is not sha256")
    thread = ObjectImport(run.reader, repo, write=write, packed=run.exclusive)
    thread.start()
    try:
        yield thread
    finally:
        thread.cancel()
        thread.join()


def repository(run: ImportRun, thread: ObjectImport) -> None:
    """The repository stage: wait for the object thread, reporting its progress from this thread (callbacks
    never interleave), and raise its error."""
    with run.stage("repository", thread.total) as stage:
        while thread.is_alive():
            run.progress("repository", thread.done, thread.total)
            thread.join(POLL_SECONDS)
        if thread.error is not None:
            raise thread.error
        stage.new, stage.existing = thread.new, thread.total - thread.new
        if thread.write and stage.new:
            run.report.objects_mode = "packed" if thread.packed else "loose"
            stage.extra = f"written {run.report.objects_mode}"
    stage.seconds = thread.seconds  # its own time, mostly spent beside the database stages


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
