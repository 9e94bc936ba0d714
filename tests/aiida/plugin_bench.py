"""aiida-core side of bench/test_aiida_plugin.py: timed storage work through aiida-core's public API.

Same protocol and profiles as ``plugin_ops.py`` (``{"op", "profile", ...}`` on stdin, ``RESULT:<json>``). Every
operation times the call alone (``seconds``; interpreter start and profile load are not counted) and, where
aiida-core's own code surrounds the storage backend, the part spent inside the backend's methods
(``storage_seconds``): the backend instance's methods are wrapped with a timer for the run (a measurement of
this process, nothing of aiida-core is changed), so ``seconds - storage_seconds`` is what aiida-core's code
outside the storage backend costs and bounds any backend's gain.

Operations:
  bulk_insert  ``backend.bulk_insert(NODE, rows)`` of N Int nodes, outside a transaction (it commits)
  import       ``aiida.tools.archive.import_archive(path)`` (what ``verdi archive import`` runs)
  delete       bulk-inserts a chain of N nodes (untimed), then ``aiida.tools.graph.deletions.delete_nodes``
               of its first node (what ``verdi node delete --force`` runs); every node goes
  orphans      N unreferenced objects put into the repository (untimed set-up) -> {"keys"}
  keyset       ``backend.get_unreferenced_keyset()``
  maintain     ``backend.maintain(full=False)`` (what ``verdi storage maintain --force`` runs)
"""

from __future__ import annotations

import io
import sys
import time
import uuid as uuidlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ops import run  # tests/aiida/ops.py, beside this file
from plugin_ops import storage  # tests/aiida/plugin_ops.py

STORAGE_METHODS = ("bulk_insert", "bulk_update", "delete_nodes_and_connections", "get_unreferenced_keyset")
T0 = datetime(2024, 1, 2, tzinfo=UTC)


def instrument(backend: Any) -> dict[str, float]:
    """Wrap the backend instance's storage methods with timers; returns the running totals per method."""
    spent = dict.fromkeys(STORAGE_METHODS, 0.0)
    for name in STORAGE_METHODS:
        original = getattr(backend, name)

        def timed(*args: Any, _original: Callable[..., Any] = original, _name: str = name, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_name] += time.perf_counter() - start

        setattr(backend, name, timed)
    return spent


def rows(tag: str, n: int, user_id: int, calc_every: int = 0) -> list[dict[str, Any]]:
    result = []
    for i in range(n):
        calc = calc_every and i % calc_every == 1
        result.append(
            {
                "uuid": str(uuidlib.uuid4()),
                "node_type": "process.calculation.calcfunction.CalcFunctionNode." if calc else "data.core.int.Int.",
                "process_type": "aiida.calculations:bench" if calc else None,
                "label": f"{tag}-{i}",
                "description": "",
                "ctime": T0 + timedelta(microseconds=i),
                "mtime": T0 + timedelta(microseconds=i),
                "attributes": {"value": i, "name": f"n{i}", "flag": i % 2 == 0},
                "extras": {"tag": tag},
                "repository_metadata": {},
                "dbcomputer_id": None,
                "user_id": user_id,
            }
        )
    return result


def timed(call: Callable[[], Any], spent: dict[str, float] | None = None) -> dict[str, Any]:
    start = time.perf_counter()
    value = call()
    seconds = time.perf_counter() - start
    result: dict[str, Any] = {"seconds": seconds, "value": value}
    if spent is not None:
        result["storage_seconds"] = sum(spent.values())
        result["storage_breakdown"] = {k: round(v, 4) for k, v in spent.items() if v}
    return result


def op_bulk_insert(args: dict[str, Any]) -> dict[str, Any]:
    from aiida import orm
    from aiida.orm.entities import EntityTypes

    backend = storage(args)
    data = rows(args["tag"], int(args["n"]), orm.User.collection.get_default().pk)
    result = timed(lambda: len(backend.bulk_insert(EntityTypes.NODE, data)))
    return result


def op_import(args: dict[str, Any]) -> dict[str, Any]:
    from aiida.tools.archive import import_archive

    backend = storage(args)
    spent = instrument(backend)
    return timed(lambda: import_archive(args["path"], backend=backend), spent)


def op_delete(args: dict[str, Any]) -> dict[str, Any]:
    from aiida import orm
    from aiida.orm.entities import EntityTypes
    from aiida.tools.graph.deletions import delete_nodes

    backend = storage(args)
    n = int(args["n"])
    pks = backend.bulk_insert(EntityTypes.NODE, rows(args["tag"], n, orm.User.collection.get_default().pk, 2))
    links = [
        {"input_id": pks[i], "output_id": pks[i + 1], "type": "input_calc" if i % 2 == 0 else "create", "label": "x"}
        for i in range(n - 1)
    ]
    backend.bulk_insert(EntityTypes.LINK, links)
    spent = instrument(backend)
    result = timed(lambda: len(delete_nodes([pks[0]], dry_run=False, backend=backend)[0]), spent)
    result["remaining"] = orm.QueryBuilder().append(orm.Node, filters={"id": {"in": pks}}).count()
    return result


def op_orphans(args: dict[str, Any]) -> dict[str, Any]:
    backend = storage(args)
    repository = backend.get_repository()
    keys = [
        repository.put_object_from_filelike(io.BytesIO(f"orphan {uuidlib.uuid4()}".encode())) for _ in range(args["n"])
    ]
    return {"keys": len(keys)}


def op_keyset(args: dict[str, Any]) -> dict[str, Any]:
    backend = storage(args)
    result = timed(lambda: len(backend.get_unreferenced_keyset()))
    return result


def op_maintain(args: dict[str, Any]) -> dict[str, Any]:
    backend = storage(args)
    spent = instrument(backend)
    result = timed(lambda: backend.maintain(full=False), spent)
    result["unreferenced_after"] = len(backend.get_unreferenced_keyset())
    return result


OPERATIONS = {
    "bulk_insert": op_bulk_insert,
    "import": op_import,
    "delete": op_delete,
    "orphans": op_orphans,
    "keyset": op_keyset,
    "maintain": op_maintain,
}

if __name__ == "__main__":
    sys.exit(run(OPERATIONS, sys.argv))
