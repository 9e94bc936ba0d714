"""Disk full while writing objects: a clear error naming the repository, the database unchanged."""

from __future__ import annotations

import errno
import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from fastdos.backend import Backend
from fastdos.profile import Profile
from tests.conftest import PgServer, link_new_container, make_profile
from tests.helpers import insert_user

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def full_profile(pg_server: PgServer, db_name: str, small_disk: Path) -> Profile:
    return link_new_container(make_profile(pg_server, db_name, small_disk / "repo"))


SNAPSHOT = (
    "SELECT (SELECT count(*) FROM db_dbnode),"
    " (SELECT md5(string_agg(key || val::text, ',' ORDER BY key)) FROM db_dbsetting)"
)


def test_disk_full_while_writing_objects(full_profile: Profile) -> None:
    with psycopg.connect(full_profile.conninfo(), autocommit=True) as conn, Backend(full_profile) as backend:
        user = insert_user(conn)
        repository = backend.get_repository()
        small = repository.put_object_from_filelike(io.BytesIO(b"fits"))
        before = conn.execute(SNAPSHOT).fetchone()
        for write in (
            lambda: repository.put_object_from_filelike(io.BytesIO(os.urandom(3 * 1024**2))),
            lambda: repository.put_objects_to_pack([io.BytesIO(os.urandom(3 * 1024**2))]),
        ):
            with pytest.raises(OSError) as info:
                # The caller's unit of work: objects first, then the nodes that reference them.
                key = write()
                backend.bulk_insert(
                    "node", [{"user_id": user, "repository_metadata": {"o": {"f": {"k": key}}}}], allow_defaults=True
                )
            assert info.value.errno == errno.ENOSPC
            assert str(full_profile.container_path) in str(info.value), str(info.value)
            assert conn.execute(SNAPSHOT).fetchone() == before
        # A failed pack write leaves its bytes at the end of the pack file (not in the index): the disk stays full
        # until a repack. Give the disk room (as a user would), then the container validates and a full
        # maintenance reclaims the dead bytes.
        subprocess.run(["mount", "-o", "remount,size=16m", str(full_profile.repository_path.parent)], check=True)
        assert repository.get_object_content(small) == b"fits"
        assert repository.container.validate().is_valid()
        assert backend.get_unreferenced_keyset() == {small}
    with Backend(full_profile) as backend:
        pack = full_profile.container_path / "packs" / "0"
        assert pack.stat().st_size > 1024**2
        backend.maintain(full=True)
        assert not pack.exists() or pack.stat().st_size < 1024**2
        assert backend.get_repository().container.validate().is_valid()
