"""A thin adapter over ``disk_objectstore.Container`` with the methods of aiida-core's
``DiskObjectStoreRepositoryBackend`` (docs/repository.md).

Unlike aiida-core, which builds a new ``Container`` on every ``get_repository()`` call, a ``Repository`` is
kept open for the lifetime of its backend, so one-at-a-time reads do not pay for re-opening the container.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import sqlite3
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, cast

from disk_objectstore import CompressMode, Container

LOGGER = logging.getLogger("fastdos.repository")

BYTES_TO_MB = 1 / 1024**2

# disk-objectstore's progress protocol: callback(action, value) with action "init" ({"total", "description"}),
# "update" (an increment) or "close" (None). fastdos' own long steps report through the same protocol.
Callback = Callable[[str, Any], None]


class Repository:
    """The file repository of a storage: content-addressed objects in a disk-objectstore container."""

    def __init__(self, container_path: Path | str) -> None:
        self._path = Path(container_path)
        self._container = Container(str(self._path))
        self._reader: _PackReader | None = None

    def __str__(self) -> str:
        if self.is_initialised:
            return f"DiskObjectStoreRepository: {self.uuid} | {self._path}"
        return "DiskObjectStoreRepository: <uninitialised>"

    @property
    def container(self) -> Container:
        """The underlying container (kept open)."""
        return self._container

    @property
    def path(self) -> Path:
        """The container folder."""
        return self._path

    def close(self) -> None:
        """Release the container's index connection and the read path's open files."""
        self._drop_reader()
        self._container.close()

    def _drop_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    @property
    def is_initialised(self) -> bool:
        """Whether the folder holds an initialised container."""
        return bool(self._container.is_initialised)

    @property
    def uuid(self) -> str | None:
        """The container id (``None`` when uninitialised)."""
        if not self.is_initialised:
            return None
        return str(self._container.container_id)

    @property
    def key_format(self) -> str | None:
        """The hash type of the keys (``sha256``)."""
        if not self.is_initialised:
            return None
        return str(self._container.hash_type)

    def initialise(self, **kwargs: Any) -> None:
        """Create the container (``init_container``)."""
        self._container.init_container(**kwargs)

    def erase(self) -> None:
        """Delete the container folder."""
        self._drop_reader()
        self._container.close()
        if self._path.exists():
            shutil.rmtree(self._path)

    # --- writing ---------------------------------------------------------------------------------------

    def put_object_from_filelike(self, handle: BinaryIO) -> str:
        """Store a binary stream as a loose object; return its key. ``TypeError`` for text streams."""
        if not _is_binary(handle):
            raise TypeError(f"handle does not seem to be a byte stream: {handle!r}")
        with self._writing():
            return str(self._container.add_streamed_object(handle))

    def put_object_from_file(self, filepath: str | Path) -> str:
        """Store the content of a file; return its key."""
        with open(filepath, "rb") as handle:
            return self.put_object_from_filelike(handle)

    def put_objects_to_pack(
        self,
        streams: Iterable[BinaryIO],
        *,
        compress: bool = False,
        no_holes: bool = False,
        callback: Callback | None = None,
    ) -> list[str]:
        """Write binary streams straight into pack files (``add_streamed_objects_to_pack``); keys in input order.

        The fast path for bulk imports: no per-object sandbox file, rename and directory entry, one index
        commit per pack (aiida-core#6417). disk-objectstore allows only ONE process to write to packs at a time,
        so call this under the profile's exclusive lock (:func:`fastdos.locking.ProfileAccess.exclusive`) or
        inside :func:`fastdos.locking.maintenance_lock`. Every stream is checked before anything is written
        (``TypeError`` for a text stream). Objects that already exist are written again and leave a hole in
        the pack unless ``no_holes`` (which first reads every packed key into memory); a repack reclaims it.
        """
        handles = list(streams)
        for index, handle in enumerate(handles):
            if not _is_binary(handle):
                raise TypeError(f"stream {index} does not seem to be a byte stream: {handle!r}")
        if not handles:
            return []
        with self._writing():
            keys = self._container.add_streamed_objects_to_pack(
                cast(list[Any], handles),
                compress=compress,
                no_holes=no_holes,
                no_holes_read_twice=False,
                callback=callback,
            )
        return [str(key) for key in keys]

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Name the container in write errors: a bare ``[Errno 28] No space left on device`` names no disk."""
        try:
            yield
        except OSError as exc:
            if exc.filename is not None or exc.errno is None:
                raise
            raise OSError(exc.errno, f"{exc.strerror} (writing to the repository container)", str(self._path)) from exc

    # --- reading ---------------------------------------------------------------------------------------

    def has_objects(self, keys: list[str]) -> list[bool]:
        """For each key, whether the object exists (one bulk lookup).

        The direct path of the pack reader: one query of the pack index for all keys and a ``stat`` of the loose
        file of each key not packed. disk-objectstore's own lookup (SQLAlchemy statements, a ``Path`` per key)
        took 3-10 ms per 100 keys, a fixed cost that showed in small archive imports (bench/notes/import.md).
        """
        reader = self._pack_reader()
        if reader is None:
            return [bool(found) for found in self._container.has_objects(keys)]
        return reader.has(keys)

    def has_object(self, key: str) -> bool:
        """Whether the object exists."""
        return self.has_objects([key])[0]

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        """A readable stream of the object; ``FileNotFoundError`` when it does not exist."""
        from disk_objectstore.exceptions import NotExistent

        try:
            with self._container.get_object_stream(key) as handle:
                yield cast(BinaryIO, handle)
        except NotExistent as exc:
            raise FileNotFoundError(f"object with key `{key}` does not exist.") from exc

    def get_object_content(self, key: str) -> bytes:
        """The whole content of the object; ``FileNotFoundError`` when it does not exist.

        One-at-a-time reads take a direct path: the loose file, else one prepared lookup in the pack index
        through a kept-open read-only SQLite connection and a ``pread`` from a kept-open pack file. Going
        through disk-objectstore's ORM instead cost ~0.6 ms per object, mostly SQLAlchemy statement
        compilation (bench/notes/repository.md).
        """
        reader = self._pack_reader()
        if reader is not None:
            content = reader.read(key)
            if content is not None:
                return content
        with self.open(key) as handle:
            return handle.read()

    def _pack_reader(self) -> _PackReader | None:
        """The direct read path, opened on first use (``None`` while the container is uninitialised)."""
        if self._reader is None and self.is_initialised:
            self._reader = _PackReader(self._path, self._container)
        return self._reader

    def get_object_hash(self, key: str) -> str:
        """The sha256 of the object's content (the key itself, as the container hashes with sha256)."""
        if self.key_format != "sha256":
            raise ValueError(f"unsupported hash type {self.key_format}")
        return key

    def iter_object_streams(self, keys: Iterable[str]) -> Iterator[tuple[str, BinaryIO]]:
        """Yield ``(key, stream)`` for every key, in on-disk order; streams are valid during the step only.

        ``FileNotFoundError`` listing every missing key before anything is yielded (disk-objectstore, and so
        aiida-core, would silently skip them).
        """
        wanted = list(keys)
        missing = [key for key, found in zip(wanted, self.has_objects(wanted), strict=True) if not found]
        if missing:
            raise FileNotFoundError(f"objects with keys {missing} do not exist")
        with self._container.get_objects_stream_and_meta(wanted, skip_if_missing=False) as triplets:
            for key, stream, meta in triplets:
                if meta["type"] == "missing" or stream is None:
                    raise FileNotFoundError(f"object with key `{key}` does not exist.")
                yield key, cast(BinaryIO, stream)

    def list_objects(self) -> Iterator[str]:
        """Every key in the container (loose and packed), streamed: the keys are never all held in memory."""
        return iter(self._container.list_all_objects())

    # --- deleting --------------------------------------------------------------------------------------

    def delete_objects(self, keys: list[str]) -> None:
        """Delete objects; ``FileNotFoundError`` listing every missing key, before deleting anything."""
        missing = [key for key, found in zip(keys, self.has_objects(keys), strict=True) if not found]
        if missing:
            raise FileNotFoundError(f"objects with keys {missing} do not exist")
        self._container.delete_objects(keys)

    def delete_object(self, key: str) -> None:
        """Delete one object."""
        self.delete_objects([key])

    # --- information -----------------------------------------------------------------------------------

    # --- maintenance -----------------------------------------------------------------------------------

    def maintain(
        self,
        dry_run: bool = False,
        live: bool = True,
        pack_loose: bool | None = None,
        do_repack: bool | None = None,
        clean_storage: bool | None = None,
        do_vacuum: bool | None = None,
        compress: bool = False,
        incremental_cleanup: bool = True,
        callback: Callback | None = None,
    ) -> RepositoryMaintenanceReport:
        """aiida-core's repository maintenance (docs/repository.md#maintenance-options): pack, repack, clean.

        ``live=True`` allows only the operations that are safe while the repository is in use; explicitly
        enabling ``do_repack``, ``clean_storage`` or ``do_vacuum`` with it raises aiida's ``ValueError``. With
        ``dry_run`` every step is only reported. Only one process may run this at a time (disk-objectstore's
        rule): callers hold :func:`fastdos.locking.maintenance_lock`.
        """
        options = resolve_maintain_options(live, pack_loose, do_repack, clean_storage, do_vacuum)
        report = RepositoryMaintenanceReport(
            dry_run=dry_run,
            live=live,
            pack_loose=options["pack_loose"],
            do_repack=options["do_repack"],
            clean_storage=options["clean_storage"],
            do_vacuum=options["do_vacuum"],
        )
        container = self._container
        if options["pack_loose"]:
            loose = container.count_objects().loose
            size = container.get_total_size().total_size_loose * BYTES_TO_MB
            report.add(f"Packing all loose files ({loose} files occupying {size} MB) ...")
            if not dry_run:
                container.pack_all_loose(
                    compress=CompressMode.AUTO if compress else CompressMode.NO,
                    callback=callback,
                    clean_loose_per_pack=incremental_cleanup,
                )
        if options["do_repack"]:
            packed = container.count_objects().packed
            size = container.get_total_size().total_size_packfiles_on_disk * BYTES_TO_MB
            report.add(f"Re-packing all pack files ({packed} files in packs, occupying {size} MB) ...")
            if not dry_run:
                container.repack(callback=callback)
        if options["clean_storage"]:
            report.add(f"Cleaning the repository database (with `vacuum={options['do_vacuum']}`) ...")
            if not dry_run:
                container.clean_storage(vacuum=options["do_vacuum"])
        self._drop_reader()  # a repack replaced pack files
        return report

    def get_info(self, detailed: bool = False) -> dict[str, Any]:
        """aiida-core's ``get_info`` shape (docs/storage-backend.md#get_info)."""
        counts = self._container.count_objects()
        info: dict[str, Any] = {
            "SHA-hash algorithm": self._container.hash_type,
            "Compression algorithm": self._container.compression_algorithm,
            "Objects": {
                "packed": counts.packed,
                "loose": counts.loose,
                "pack_files": counts.pack_files,
            },
        }
        if detailed:
            sizes = self._container.get_total_size()
            info["Size (MB)"] = {
                name: round(getattr(sizes, name) / 1024**2, 2)
                for name in (
                    "total_size_packed",
                    "total_size_packed_on_disk",
                    "total_size_packfiles_on_disk",
                    "total_size_packindexes_on_disk",
                    "total_size_loose",
                )
            }
        return info


class _PackReader:
    """The direct read path of :meth:`Repository.get_object_content` (read-only; thread-safe by a lock).

    Pack files are append-only except for a repack, which writes a new file and renames it over the old one:
    a cached file is re-opened when the inode behind its path changed, so a repack by anyone is safe. An
    object that is not found here (or a compression this reader does not know) falls back to
    disk-objectstore, which raises the proper errors.
    """

    def __init__(self, path: Path, container: Container) -> None:
        # Plain strings, not pathlib: building Path objects cost more than the index lookup itself.
        self._loose = f"{path}/loose/"
        self._pack = f"{path}/packs/"
        self._prefix = int(container.loose_prefix_len)
        self._zlib = str(container.compression_algorithm).startswith("zlib")
        self._index = sqlite3.connect(f"file:{path / 'packs.idx'}?mode=ro", uri=True, check_same_thread=False)
        self._packs: dict[int, tuple[int, int]] = {}  # pack id -> (fd, inode)
        self._lock = threading.Lock()

    def _loose_path(self, key: str) -> str:
        return f"{self._loose}{key[: self._prefix]}/{key[self._prefix :]}"

    def has(self, keys: list[str]) -> list[bool]:
        """Whether each key is packed or loose. Keys in neither are looked up in the packs once more, as
        disk-objectstore does: packing moves an object from loose to a pack between the two looks."""
        found = self._packed(keys)
        found.update(key for key in keys if key not in found and os.path.isfile(self._loose_path(key)))
        rest = [key for key in keys if key not in found]
        if rest:
            found |= self._packed(rest)
        return [key in found for key in keys]

    def _packed(self, keys: list[str]) -> set[str]:
        """The keys the pack index holds (one statement: the keys travel as one JSON array parameter)."""
        with self._lock:
            rows = self._index.execute(
                "SELECT hashkey FROM db_object WHERE hashkey IN (SELECT value FROM json_each(?))", (json.dumps(keys),)
            ).fetchall()
        return {str(row[0]) for row in rows}

    def read(self, key: str) -> bytes | None:
        loose = self._loose_path(key)
        try:
            with open(loose, "rb") as handle:
                return handle.read()
        except (FileNotFoundError, NotADirectoryError):
            pass
        with self._lock:
            row = self._index.execute(
                "SELECT pack_id, offset, length, compressed FROM db_object WHERE hashkey = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            pack_id, offset, length, compressed = row
            if compressed and not self._zlib:
                return None
            data = os.pread(self._pack_fd(int(pack_id)), int(length), int(offset))
        if len(data) != length:
            return None  # the pack changed under us: let disk-objectstore read it
        return zlib.decompress(data) if compressed else data

    def _pack_fd(self, pack_id: int) -> int:
        path = f"{self._pack}{pack_id}"
        inode = os.stat(path).st_ino
        cached = self._packs.get(pack_id)
        if cached is not None and cached[1] == inode:
            return cached[0]
        if cached is not None:
            os.close(cached[0])
        fd = os.open(path, os.O_RDONLY)
        self._packs[pack_id] = (fd, inode)
        return fd

    def close(self) -> None:
        with self._lock:
            for fd, _ in self._packs.values():
                os.close(fd)
            self._packs.clear()
            self._index.close()


def resolve_maintain_options(
    live: bool,
    pack_loose: bool | None = None,
    do_repack: bool | None = None,
    clean_storage: bool | None = None,
    do_vacuum: bool | None = None,
) -> dict[str, bool]:
    """aiida-core's defaults for the maintenance steps; its ``ValueError`` for unsafe overrides in live mode."""
    if live and (do_repack or clean_storage or do_vacuum):
        overrides = {"do_repack": do_repack, "clean_storage": clean_storage, "do_vacuum": do_vacuum}
        keys = ", ".join(key for key, override in overrides.items() if override is True)
        raise ValueError(f"The following overrides were enabled but cannot be if `live=True`: {keys}")
    if live:
        return {
            "pack_loose": True if pack_loose is None else pack_loose,
            "do_repack": False,
            "clean_storage": True if clean_storage is None else clean_storage,
            "do_vacuum": False,
        }
    return {
        "pack_loose": True if pack_loose is None else pack_loose,
        "do_repack": True if do_repack is None else do_repack,
        "clean_storage": True if clean_storage is None else clean_storage,
        "do_vacuum": True if do_vacuum is None else do_vacuum,
    }


@dataclass
class RepositoryMaintenanceReport:
    """What :meth:`Repository.maintain` did (or, on a dry run, would do): the resolved steps and aiida's lines."""

    dry_run: bool
    live: bool
    pack_loose: bool
    do_repack: bool
    clean_storage: bool
    do_vacuum: bool
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        """Record (and log) one report line."""
        LOGGER.info("%s%s", "[dry run] " if self.dry_run else "", line)
        self.lines.append(line)


# --- repository_metadata (docs/repository.md#repository_metadata) ----------------------------------------


def build_tree(files: Mapping[str, str | None]) -> dict[str, Any]:
    """The ``repository_metadata`` of a node from ``{relative posix path: object key}``.

    A value of ``None`` makes the path an empty directory (``{}``); parent directories are implied. An empty
    mapping gives ``{}``, the tree of a node without files. ``ValueError`` for absolute paths, ``.``/``..``
    components, empty paths, and a path that is both a file and a directory; ``TypeError`` for a key that is
    not a string.
    """
    root: dict[str, Any] = {}
    for path, key in files.items():
        parts = _path_parts(path)
        if key is not None and not isinstance(key, str):
            raise TypeError(f"the key of {path!r} must be a string, got {type(key).__name__}")
        directory = root
        for depth, name in enumerate(parts[:-1]):
            child = directory.setdefault("o", {}).setdefault(name, {})
            if "k" in child:
                raise ValueError(f"{'/'.join(parts[: depth + 1])!r} is a file but {path!r} needs it as a directory")
            directory = child
        name = parts[-1]
        objects = directory.setdefault("o", {})
        existing = objects.get(name)
        if key is None:
            if existing is not None and "k" in existing:
                raise ValueError(f"{path!r} is both a file and a directory")
            objects.setdefault(name, {})
        else:
            if existing is not None and existing != {"k": key}:
                raise ValueError(f"{path!r} is given twice or is also a directory")
            objects[name] = {"k": key}
    return root


def iter_keys(tree: Mapping[str, Any]) -> Iterator[str]:
    """Every object key of a ``repository_metadata`` tree, depth first; a key shared by two files comes twice."""
    stack: list[Mapping[str, Any]] = [tree]
    while stack:
        entry = stack.pop()
        key = entry.get("k")
        if key is not None:
            yield str(key)
        children = entry.get("o")
        if children:
            stack.extend(reversed(list(children.values())))


def _path_parts(path: str) -> tuple[str, ...]:
    if not isinstance(path, str) or not path:
        raise ValueError(f"invalid repository path {path!r}: must be a non-empty string")
    pure = PurePosixPath(path)
    if pure.is_absolute():
        raise ValueError(f"invalid repository path {path!r}: must be relative")
    parts = tuple(path.rstrip("/").split("/"))
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"invalid repository path {path!r}: empty, `.` or `..` components are not allowed")
    return parts


def _is_binary(handle: Any) -> bool:
    if isinstance(handle, (io.BufferedIOBase, io.RawIOBase)):
        return True
    return hasattr(handle, "read") and "b" in str(getattr(handle, "mode", ""))
