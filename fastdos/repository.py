"""A thin adapter over ``disk_objectstore.Container`` with the methods of aiida-core's
``DiskObjectStoreRepositoryBackend`` (spec §5).

Unlike aiida-core, which builds a new ``Container`` on every ``get_repository()`` call, a ``Repository`` is
kept open for the lifetime of its backend, so one-at-a-time reads do not pay for re-opening the container.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

from disk_objectstore import Container


class Repository:
    """The file repository of a storage: content-addressed objects in a disk-objectstore container."""

    def __init__(self, container_path: Path | str) -> None:
        self._path = Path(container_path)
        self._container = Container(str(self._path))

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
        """Release the container's index connection."""
        self._container.close()

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
        self._container.close()
        if self._path.exists():
            shutil.rmtree(self._path)

    # --- writing ---------------------------------------------------------------------------------------

    def put_object_from_filelike(self, handle: BinaryIO) -> str:
        """Store a binary stream as a loose object; return its key. ``TypeError`` for text streams."""
        if not _is_binary(handle):
            raise TypeError(f"handle does not seem to be a byte stream: {handle!r}")
        return str(self._container.add_streamed_object(handle))

    def put_object_from_file(self, filepath: str | Path) -> str:
        """Store the content of a file; return its key."""
        with open(filepath, "rb") as handle:
            return self.put_object_from_filelike(handle)

    # --- reading ---------------------------------------------------------------------------------------

    def has_objects(self, keys: list[str]) -> list[bool]:
        """For each key, whether the object exists (one bulk lookup)."""
        return [bool(found) for found in self._container.has_objects(keys)]

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
        """The whole content of the object."""
        with self.open(key) as handle:
            return handle.read()

    def get_object_hash(self, key: str) -> str:
        """The sha256 of the object's content (the key itself, as the container hashes with sha256)."""
        if self.key_format != "sha256":
            raise ValueError(f"unsupported hash type {self.key_format}")
        return key

    def iter_object_streams(self, keys: Iterable[str]) -> Iterator[tuple[str, BinaryIO]]:
        """Yield ``(key, stream)`` for every key, in on-disk order; streams are valid during the step only."""
        with self._container.get_objects_stream_and_meta(list(keys)) as triplets:
            for key, stream, meta in triplets:
                if meta["type"] == "missing" or stream is None:
                    raise FileNotFoundError(f"object with key `{key}` does not exist.")
                yield key, cast(BinaryIO, stream)

    def list_objects(self) -> Iterator[str]:
        """Every key in the container (loose and packed)."""
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

    def get_info(self, detailed: bool = False) -> dict[str, Any]:
        """aiida-core's ``get_info`` shape (spec §4.8)."""
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


def _is_binary(handle: Any) -> bool:
    if isinstance(handle, (io.BufferedIOBase, io.RawIOBase)):
        return True
    return hasattr(handle, "read") and "b" in str(getattr(handle, "mode", ""))
