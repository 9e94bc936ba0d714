"""aiida-core side of fastdos' QueryBuilder comparison: runs in ``.venv-aiida`` (aiida-core 2.9.4).

Usage: ``.venv-aiida/bin/python tests/aiida/qb_compare.py -`` with a JSON object on stdin::

    {"storage": {<core.psql_dos storage config>}, "queries": [<query>, ...]}

where a query is ``{"vertices": [{"entity", "tag", "filters", "subclassing", "rel": [name, tag] | null,
"edge_filters"}], "project": [tag, property]}``; ``entity`` is 'node', 'group', 'user', 'computer' or a node
type string (passed as ``entity_type``). Prints ``RESULT:`` + ``{"results": [...]}``: per query the sorted
list of distinct projected values, or ``{"error": "<type>: <message>"}``. Used by tests/test_query_aiida.py.

Timing mode (bench/test_query.py): ``"timing": true`` runs each query as a user would — ``qb.all(flat=True)``,
or ``qb.count()`` when the query has ``"count": true`` — and returns per query ``{"result": <sorted values or
the count>, "seconds": <best of "rounds" runs (default 1)>}``, the time of building the QueryBuilder and
fetching the rows (aiida's Python overhead included; the interpreter start, imports and storage load are not).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def main() -> int:
    args = json.loads(sys.stdin.read())
    from aiida import orm
    from aiida.manage.configuration.profile import Profile
    from aiida.storage.psql_dos import PsqlDosBackend

    profile = Profile(
        "qbcompare",
        {
            "storage": {"backend": "core.psql_dos", "config": dict(args["storage"])},
            "process_control": {"backend": None, "config": {}},
            "default_user_email": "qb@example.org",
            "options": {},
        },
    )
    storage = PsqlDosBackend(profile)
    classes = {"node": orm.Node, "group": orm.Group, "user": orm.User, "computer": orm.Computer}
    results: list[Any] = []
    if args.get("timing"):
        for query in args["queries"]:
            best, result = float("inf"), None
            for _ in range(int(args.get("rounds", 1))):
                started = time.perf_counter()
                qb = _build(orm, classes, storage, query)
                result = qb.count() if query.get("count") else qb.all(flat=True)
                best = min(best, time.perf_counter() - started)
            results.append({"result": result if isinstance(result, int) else sorted(result), "seconds": best})
        storage.close()
        print("RESULT:" + json.dumps({"results": results}, default=str))
        return 0
    for query in args["queries"]:
        try:
            qb = _build(orm, classes, storage, query)
            tag, prop = query["project"]
            qb.add_projection(tag, prop)
            results.append(sorted({row[0] for row in qb.iterall()}, key=repr))
        except Exception as exc:  # reported per query: the caller compares errors too
            results.append({"error": f"{type(exc).__name__}: {exc}"})
    storage.close()
    print("RESULT:" + json.dumps({"results": results}, default=str))
    return 0


def _build(orm: Any, classes: dict[str, Any], storage: Any, query: dict[str, Any]) -> Any:
    """The QueryBuilder of ``query``: its vertices with filters, relationship, edge filters and, for timing
    queries, a per-vertex ``"project"`` (comparison queries add their one projection afterwards)."""
    qb = orm.QueryBuilder(backend=storage)
    for vertex in query["vertices"]:
        kwargs: dict[str, Any] = {"tag": vertex["tag"], "filters": vertex.get("filters") or {}}
        if vertex.get("rel"):
            kwargs[vertex["rel"][0]] = vertex["rel"][1]
        if vertex.get("edge_filters"):
            kwargs["edge_filters"] = vertex["edge_filters"]
        if vertex.get("project"):
            kwargs["project"] = vertex["project"]
        entity = vertex["entity"]
        if entity in classes:
            qb.append(classes[entity], subclassing=vertex.get("subclassing", True), **kwargs)
        else:
            qb.append(entity_type=entity, subclassing=vertex.get("subclassing", True), **kwargs)
    return qb


if __name__ == "__main__":
    sys.exit(main())
