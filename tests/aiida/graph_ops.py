"""aiida-core side of the graph comparisons: runs in ``.venv-aiida`` (aiida-core 2.9.4), never in fastdos' venv.

Usage: ``.venv-aiida/bin/python tests/aiida/graph_ops.py -`` with a JSON object on stdin::

    {"op": "<operation>", "storage": {<core.psql_dos storage config>}, "name": "<profile name>", ...}

Prints ``RESULT:`` + one JSON object on the last line (aiida exceptions as ``{"error": {...}}``, exit 3),
like ``tests/aiida/ops.py``, whose in-memory profile it reuses. The profile is loaded globally because
``delete_nodes`` resolves the storage through aiida's manager. ``seconds`` is the time of the aiida call
alone (the interpreter start, imports and profile load are not counted).

Operations:
  delete       ``aiida.tools.graph.deletions.delete_nodes(pks, dry_run, **rules)`` -> {"pks", "deleted", "seconds"};
               with ``"requests": [{"pks", "rules"}, ...]`` instead, one dry run each -> {"results": [pks, ...]}
  delete_connections  the storage backend's ``delete_nodes_and_connections(pks)`` inside its ``transaction()``
               (no traversal) -> {"nodes" left, "seconds"}
  descendants  ``QueryBuilder`` ``with_ancestors`` from ``pks`` (aiida's ancestors/descendants query), or
               ``with_descendants`` when ``"direction": "ancestors"`` -> {"pks", "seconds"}
  validate     ``PsqlDosBackend(profile)`` (storage validation) + ``get_info`` -> {"nodes"}
  clear        ``PsqlDosBackend._clear()`` -> {"nodes"} afterwards
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ops import make_profile, run  # tests/aiida/ops.py, beside this file


def _loaded(args: dict[str, Any]) -> Any:
    from aiida.manage import get_manager

    manager = get_manager()
    manager.load_profile(make_profile(args), allow_switch=True)
    return manager


def op_delete(args: dict[str, Any]) -> dict[str, Any]:
    from aiida.tools.graph.deletions import delete_nodes

    manager = _loaded(args)
    try:
        if "requests" in args:  # several dry runs in one process: {"requests": [{"pks", "rules"}, ...]}
            return {"results": [sorted(delete_nodes(r["pks"], dry_run=True, **r.get("rules", {}))[0])
                                for r in args["requests"]]}
        started = time.perf_counter()
        pks, deleted = delete_nodes(args["pks"], dry_run=args.get("dry_run", True), **args.get("rules", {}))
        seconds = time.perf_counter() - started
        return {"pks": sorted(pks), "deleted": deleted, "seconds": seconds}
    finally:
        manager.unload_profile()


def op_delete_connections(args: dict[str, Any]) -> dict[str, Any]:
    from aiida import orm

    manager = _loaded(args)
    try:
        storage = manager.get_profile_storage()
        started = time.perf_counter()
        with storage.transaction():
            storage.delete_nodes_and_connections(args["pks"])
        seconds = time.perf_counter() - started
        return {"nodes": orm.QueryBuilder(backend=storage).append(orm.Node).count(), "seconds": seconds}
    finally:
        manager.unload_profile()


def op_descendants(args: dict[str, Any]) -> dict[str, Any]:
    from aiida import orm

    manager = _loaded(args)
    try:
        relation = "with_descendants" if args.get("direction") == "ancestors" else "with_ancestors"
        started = time.perf_counter()
        qb = orm.QueryBuilder()
        qb.append(orm.Node, filters={"id": {"in": args["pks"]}}, tag="start")
        qb.append(orm.Node, **{relation: "start"}, project="id")
        pks = {row[0] for row in qb.iterall()}
        seconds = time.perf_counter() - started
        return {"pks": sorted(pks), "seconds": seconds}
    finally:
        manager.unload_profile()


def op_validate(args: dict[str, Any]) -> dict[str, Any]:
    from aiida.storage.psql_dos import PsqlDosBackend

    storage = PsqlDosBackend(make_profile(args))
    try:
        info = storage.get_info()
        return {"nodes": info["entities"]["Nodes"]["count"]}
    finally:
        storage.close()


def op_clear(args: dict[str, Any]) -> dict[str, Any]:
    from aiida import orm
    from aiida.storage.psql_dos import PsqlDosBackend

    storage = PsqlDosBackend(make_profile(args))
    try:
        storage._clear()
        return {"nodes": orm.QueryBuilder(backend=storage).append(orm.Node).count()}
    finally:
        storage.close()


OPERATIONS = {
    "delete": op_delete,
    "delete_connections": op_delete_connections,
    "descendants": op_descendants,
    "validate": op_validate,
    "clear": op_clear,
}


def main(argv: list[str]) -> int:
    return run(OPERATIONS, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
