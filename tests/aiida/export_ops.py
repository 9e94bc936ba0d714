"""aiida-core side of the export comparisons: runs in ``.venv-aiida`` (aiida-core 2.9.4), never in fastdos' venv.

Usage: ``.venv-aiida/bin/python tests/aiida/export_ops.py -`` with a JSON object on stdin::

    {"op": "<operation>", "storage": {<core.psql_dos storage config>}, "name": "<profile name>", ...}

Prints ``RESULT:`` + one JSON object on the last line (aiida exceptions as ``{"error": {...}}``, exit 3),
like ``tests/aiida/ops.py``, whose in-memory profile it reuses. ``seconds`` is the time of the aiida call
alone (interpreter start, imports and profile load are not counted).

Operations:
  create   aiida's ``create_archive`` for each of ``"requests": [{"path", "all", "nodes", "groups",
           "computers", "users", "options"}, ...]`` (entities by pk; ``all`` exports everything)
           -> {"results": [{"seconds"} | {"error": {"type", "message"}}, ...]}
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ops import make_profile, run  # tests/aiida/ops.py, beside this file


def _entities(request: dict[str, Any]) -> list[Any] | None:
    from aiida import orm

    if request.get("all"):
        return None
    entities: list[Any] = []
    entities += [orm.load_computer(pk=pk) for pk in request.get("computers", [])]
    entities += [orm.load_group(pk=pk) for pk in request.get("groups", [])]
    entities += [orm.load_node(pk) for pk in request.get("nodes", [])]
    entities += [orm.User.collection.get(id=pk) for pk in request.get("users", [])]
    return entities


def op_create(args: dict[str, Any]) -> dict[str, Any]:
    from aiida.common.exceptions import AiidaException
    from aiida.manage import get_manager
    from aiida.tools.archive import create_archive

    manager = get_manager()
    manager.load_profile(make_profile(args), allow_switch=True)
    results: list[dict[str, Any]] = []
    try:
        for request in args["requests"]:
            entities = _entities(request)
            started = time.perf_counter()
            try:
                create_archive(entities, filename=request["path"], **request.get("options", {}))
            except (AiidaException, ValueError) as exc:
                results.append({"error": {"type": type(exc).__name__, "message": str(exc)}})
                continue
            results.append({"seconds": time.perf_counter() - started})
        return {"results": results}
    finally:
        manager.unload_profile()


OPERATIONS = {"create": op_create}


def main(argv: list[str]) -> int:
    return run(OPERATIONS, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
