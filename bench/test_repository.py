"""Repository benchmarks, each beside its comparison in the same run.

* ``keyset``: ``get_unreferenced_keyset`` (keys extracted in PostgreSQL, container keys COPYed, anti-join)
  vs aiida-core's way (every container key into a Python set, every node's ``repository_metadata`` fetched
  in batches of 100 and flattened in Python), on ``FASTDOS_BENCH_KEYSET_N`` objects and as many nodes
  (default 10^4; the recorded figures use 10^5).
* ``write``: 10^4 small files written loose one by one vs straight into a pack in one call.
* ``read``: objects read one key at a time through the kept-open repository vs a new ``Container`` per read
  (what aiida-core's ``get_repository()`` does on every call; sampled on fewer keys, it is slow).

Run: ``.venv/bin/python -m pytest bench/test_repository.py --benchmark-enable --benchmark-only``.
"""

from __future__ import annotations

import io
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from disk_objectstore import Container
from psycopg.types.json import Jsonb

from fastdos.backend import Backend
from fastdos.migrator import CONTAINER_DEFAULTS
from fastdos.profile import Profile
from fastdos.repository import Repository, build_tree, iter_keys
from tests.conftest import db_name, pg_server, profile, template_db  # noqa: F401  (fixtures)
from tests.helpers import insert_user

KEYSET_N = int(os.environ.get("FASTDOS_BENCH_KEYSET_N", "10000"))
WRITE_N = 10_000
READ_N = 10_000
READ_N_NEW_CONTAINER = 500  # ~150 objects/s: a sample is enough for the rate


def contents(n: int, tag: str) -> list[bytes]:
    return [f"{tag} object {i} ".encode() * 4 for i in range(n)]


# --- get_unreferenced_keyset ----------------------------------------------------------------------------


def seed_keyset(prof: Profile, n: int) -> set[str]:
    """Fill ``prof``'s (template-clone) database and a new container: ``n`` nodes referencing ``n`` packed
    objects (every fifth node shares its neighbour's key), plus ``n // 10`` unreferenced objects; returns the
    keys no node references. Also used by the growth curves (bench/growth/cases.py)."""
    repo = Repository(prof.container_path)
    repo.initialise(**CONTAINER_DEFAULTS)
    extra = n // 10  # unreferenced objects
    keys = repo.put_objects_to_pack([io.BytesIO(c) for c in contents(n + extra, "keyset")])
    with psycopg.connect(prof.conninfo(), autocommit=True) as conn:
        conn.execute("UPDATE db_dbsetting SET val = %s WHERE key = 'repository|uuid'", (Jsonb(repo.uuid),))
        user = insert_user(conn)
        now = datetime.now(UTC)
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY db_dbnode (uuid, node_type, label, description, ctime, mtime, attributes, extras,"
                " repository_metadata, user_id) FROM STDIN"
            ) as copy,
        ):
            for i in range(n):
                # every node one file, in a nested folder every third node, sharing a key every fifth node
                key = keys[i - 1] if i % 5 == 4 else keys[i]
                path = f"a/b/{i}.txt" if i % 3 == 0 else "f.txt"
                tree = build_tree({path: key, "empty": None})
                copy.write_row(
                    (uuid.uuid4(), "data.core.Data.", "", "", now, now, Jsonb({}), Jsonb({}), Jsonb(tree), user)
                )
        conn.execute("ANALYZE db_dbnode")
    repo.close()
    return set(keys[n:]) | {keys[i] for i in range(n) if i % 5 == 4}


@pytest.fixture(scope="module")
def keyset_storage(tmp_path_factory: pytest.TempPathFactory, pg_server: Any, template_db: str) -> Iterator[Backend]:  # noqa: F811
    from tests.conftest import create_database, drop_database, make_profile

    name = f"fastdos_bench_{uuid.uuid4().hex[:8]}"
    create_database(pg_server, name, template=template_db)
    prof = make_profile(pg_server, name, tmp_path_factory.mktemp("keyset") / "repo")
    expected = seed_keyset(prof, KEYSET_N)
    with Backend(prof) as backend:
        backend.expected_unreferenced = expected  # type: ignore[attr-defined]
        yield backend
    drop_database(pg_server, name)


def aiida_style_unreferenced(backend: Backend) -> set[str]:
    """aiida-core's algorithm: all container keys into a set, node trees fetched 100 at a time and flattened."""
    keys = set(backend.get_repository().list_objects())
    referenced: set[str] = set()
    with psycopg.connect(backend.profile.conninfo()) as conn, conn.cursor(name="nodes") as cursor:
        cursor.itersize = 100
        cursor.execute("SELECT repository_metadata FROM db_dbnode")
        for (tree,) in cursor:
            referenced.update(iter_keys(tree or {}))
    return keys - referenced


@pytest.mark.benchmark(group="repository-keyset")
def test_keyset_sql(benchmark: Any, keyset_storage: Backend) -> None:
    result = benchmark.pedantic(keyset_storage.get_unreferenced_keyset, rounds=3, iterations=1, warmup_rounds=1)
    assert result == keyset_storage.expected_unreferenced  # type: ignore[attr-defined]
    benchmark.extra_info.update(objects=KEYSET_N + KEYSET_N // 10, nodes=KEYSET_N)


@pytest.mark.benchmark(group="repository-keyset")
def test_keyset_python_batches_of_100(benchmark: Any, keyset_storage: Backend) -> None:
    result = benchmark.pedantic(aiida_style_unreferenced, args=(keyset_storage,), rounds=3, iterations=1)
    assert result == keyset_storage.expected_unreferenced  # type: ignore[attr-defined]
    benchmark.extra_info.update(objects=KEYSET_N + KEYSET_N // 10, nodes=KEYSET_N)


# --- writes ---------------------------------------------------------------------------------------------


@pytest.fixture
def fresh_container(tmp_path: Path) -> Iterator[Any]:
    made: list[Repository] = []

    def make() -> tuple[tuple[Repository, list[bytes]], dict[str, Any]]:
        folder = tmp_path / f"c{len(made)}"
        repo = Repository(folder)
        repo.initialise(**CONTAINER_DEFAULTS)
        made.append(repo)
        return (repo, contents(WRITE_N, f"write {len(made)}")), {}

    yield make
    for repo in made:
        repo.close()
        shutil.rmtree(repo.path, ignore_errors=True)


def write_loose(repo: Repository, data: list[bytes]) -> list[str]:
    return [repo.put_object_from_filelike(io.BytesIO(c)) for c in data]


def write_packed(repo: Repository, data: list[bytes]) -> list[str]:
    return repo.put_objects_to_pack([io.BytesIO(c) for c in data])


@pytest.mark.benchmark(group="repository-write")
def test_write_loose(benchmark: Any, fresh_container: Any) -> None:
    keys = benchmark.pedantic(write_loose, setup=fresh_container, rounds=3, iterations=1)
    assert len(set(keys)) == WRITE_N
    benchmark.extra_info["objects"] = WRITE_N


@pytest.mark.benchmark(group="repository-write")
def test_write_to_pack(benchmark: Any, fresh_container: Any) -> None:
    keys = benchmark.pedantic(write_packed, setup=fresh_container, rounds=3, iterations=1)
    assert len(set(keys)) == WRITE_N
    benchmark.extra_info["objects"] = WRITE_N


# --- one-at-a-time reads --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def read_container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Repository, list[str]]]:
    repo = Repository(tmp_path_factory.mktemp("read") / "container")
    repo.initialise(**CONTAINER_DEFAULTS)
    keys = repo.put_objects_to_pack([io.BytesIO(c) for c in contents(READ_N, "read")])
    yield repo, keys
    repo.close()


def read_kept_open(repo: Repository, keys: list[str]) -> int:
    return sum(len(repo.get_object_content(key)) for key in keys)


def read_new_container_each(path: Path, keys: list[str]) -> int:
    total = 0
    for key in keys:
        with Container(str(path)) as container:  # aiida-core: a new backend+container per get_repository()
            total += len(container.get_object_content(key))
    return total


@pytest.mark.benchmark(group="repository-read")
def test_read_one_at_a_time_kept_open(benchmark: Any, read_container: tuple[Repository, list[str]]) -> None:
    repo, keys = read_container
    total = benchmark.pedantic(read_kept_open, args=(repo, keys), rounds=3, iterations=1)
    assert total == sum(len(c) for c in contents(READ_N, "read"))
    benchmark.extra_info["objects"] = READ_N


@pytest.mark.benchmark(group="repository-read")
def test_read_one_at_a_time_new_container(benchmark: Any, read_container: tuple[Repository, list[str]]) -> None:
    repo, keys = read_container
    sample = keys[:READ_N_NEW_CONTAINER]
    total = benchmark.pedantic(read_new_container_each, args=(repo.path, sample), rounds=3, iterations=1)
    assert total == sum(len(c) for c in contents(READ_N, "read")[:READ_N_NEW_CONTAINER])
    benchmark.extra_info["objects"] = READ_N_NEW_CONTAINER


_ = (Profile,)
