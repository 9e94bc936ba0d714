"""A large file into the zip as one deflated member, compressed by several threads (pigz's scheme).

The archive's ``db.sqlite3`` is the one big member, and zlib at level 6 runs at ~35 MB/s on one core
(bench/notes/export.md): at 10^5 nodes it was the longest single step. The file is cut into fixed chunks;
each is deflated on its own by a thread pool (zlib releases the GIL), every chunk but the last ending with a
sync flush (an empty stored block: byte-aligned, not final), so the concatenation is one valid deflate
stream that any unzip reads. Chunks start without the previous chunk's window, which costs well under 1%
of the size at 4 MiB chunks. At most ``2 * workers`` chunks are in flight, so memory stays fixed.

zipfile has no public way to add an already-compressed member, so the local header is written by hand the
way ``zipfile`` itself writes one (the same private fields the ``archive_path`` package, which aiida-core's
writer uses, relies on), then patched with the CRC and sizes once they are known.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import IO

# 4 MiB per chunk: large enough that the lost window is negligible, small enough for a 2-core machine to
# keep both cores busy on a 7 MB database (10^4 nodes).
CHUNK = 4 << 20
MAX_WORKERS = 4


def _deflate(data: bytes, level: int, last: bool) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


@contextmanager
def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[IO[bytes]]:
    """Write one member by hand the way ``zipfile`` does: under its lock, at the end of the data, checked and
    registered. The caller writes the local header and the data; the member ends where the file position is."""
    fp = archive.fp
    assert fp is not None
    with archive._lock:  # type: ignore[attr-defined]
        if archive._writing:  # type: ignore[attr-defined]
            raise ValueError("the zip has an open member")
        fp.seek(archive.start_dir)
        info.header_offset = fp.tell()
        archive._writecheck(info)  # type: ignore[attr-defined]
        archive._didModify = True  # type: ignore[attr-defined]
        yield fp
        archive.start_dir = fp.tell()
        archive.filelist.append(info)
        archive.NameToInfo[info.filename] = info


def add_file(archive: zipfile.ZipFile, source: Path, name: str, level: int, date_time: tuple[int, ...]) -> None:
    """Append ``source`` to ``archive`` as member ``name``, deflated at ``level`` (stored when level is 0)."""
    size = source.stat().st_size
    info = zipfile.ZipInfo(name, date_time=date_time[:6])  # type: ignore[arg-type]
    info.external_attr = 0o600 << 16  # rw-------, as zipfile gives the members aiida-core's writer opens
    info.compress_type = zipfile.ZIP_DEFLATED if level else zipfile.ZIP_STORED
    info.file_size = size
    zip64 = size * 1.05 > zipfile.ZIP64_LIMIT  # zipfile's own rule for a member of known size
    with _member(archive, info) as fp:
        info.CRC, info.compress_size = 0, 0
        fp.write(info.FileHeader(zip64))
        start = fp.tell()
        crc = 0
        with open(source, "rb") as handle:
            if level:
                crc = _write_deflated(handle, fp, level, size)
            else:
                while chunk := handle.read(CHUNK):
                    crc = zlib.crc32(chunk, crc)
                    fp.write(chunk)
        end = fp.tell()
        info.CRC, info.compress_size = crc, end - start
        fp.seek(info.header_offset)
        fp.write(info.FileHeader(zip64))  # same length: the zip64 choice did not change
        fp.seek(end)


def add_bytes(archive: zipfile.ZipFile, name: str, data: bytes, level: int, date_time: tuple[int, ...]) -> None:
    """Append a small member whose content is in memory: one zlib call and one write.

    ``ZipFile.writestr`` costs ~80 us per member in Python (a compressor object, a write handle, and a seek
    back to rewrite the local header); the repository objects of an archive are mostly a few hundred bytes,
    and 10^4 of them went through that path in a thread that competes for the GIL with the row load
    (bench/notes/export.md). The header is built by ``ZipInfo.FileHeader`` with the CRC and sizes known.
    """
    info = zipfile.ZipInfo(name, date_time=date_time[:6])  # type: ignore[arg-type]
    info.external_attr = 0o600 << 16
    info.file_size = len(data)
    info.CRC = zlib.crc32(data)
    if level:
        info.compress_type = zipfile.ZIP_DEFLATED
        payload = zlib.compress(data, level, -15)
    else:
        info.compress_type = zipfile.ZIP_STORED
        payload = data
    info.compress_size = len(payload)
    zip64 = info.file_size > zipfile.ZIP64_LIMIT or info.compress_size > zipfile.ZIP64_LIMIT
    with _member(archive, info) as fp:
        fp.write(info.FileHeader(zip64) + payload)


def _write_deflated(handle: object, sink: object, level: int, size: int) -> int:
    """Deflate ``handle`` into ``sink`` chunk by chunk in a thread pool, in order; return the CRC of the input."""
    workers = max(1, min(MAX_WORKERS, os.cpu_count() or 1))
    crc = 0
    remaining = size
    pending: deque[Future[bytes]] = deque()
    read = handle.read  # type: ignore[attr-defined]
    write = sink.write  # type: ignore[attr-defined]
    if size == 0:
        write(_deflate(b"", level, True))  # a deflate stream holds at least its final block
        return crc
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fastdos-deflate") as pool:
        while remaining > 0 or pending:
            while remaining > 0 and len(pending) < 2 * workers:
                chunk = read(min(CHUNK, remaining))
                if not chunk:
                    raise OSError(f"the file shrank while it was being archived ({remaining} bytes missing)")
                remaining -= len(chunk)
                crc = zlib.crc32(chunk, crc)
                pending.append(pool.submit(_deflate, chunk, level, remaining == 0))
            write(pending.popleft().result())
    return crc
