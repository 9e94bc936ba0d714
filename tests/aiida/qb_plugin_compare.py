"""aiida-core side of the plugin QueryBuilder tests: runs in ``.venv-aiida`` (aiida-core 2.9.4 + fastdos).

Usage: ``.venv-aiida/bin/python tests/aiida/qb_plugin_compare.py -`` with a JSON object on stdin::

    {"storage": {<psql_dos storage config>}, "op": "compare" | "transaction", "queries": [<query>, ...]}

Two storages are opened on the same database: aiida-core's ``PsqlDosBackend`` and fastdos' plugin
(``fastdos.aiida.backend.FastdosStorage``; ``"standin": true`` uses a bare ``PsqlDosBackend`` subclass whose
``query()`` is ``FastdosQueryBuilder``, for developing the builder alone). Every query runs through
``orm.QueryBuilder`` on both and the normalised results are compared here, in one process:

``compare``: a query is ``{"vertices": [{"entity", "tag", "filters", "subclassing", "rel": [name, tag],
"edge_filters", "outerjoin", "project", "edge_project", "edge_tag"}], "order_by", "limit", "offset",
"distinct", "method": "all" | "iterall" | "dict" | "iterdict" | "count" | "first" | "one", "batch_size",
"ordered": bool}``. Rows are compared as multisets (duplicates counted), in order when ``ordered``; an
exception must be the same type on both sides (and the same message unless it comes from the database).
Prints ``RESULT:`` + ``{"storage_class", "results": [{"equal", "accelerated", "reason", "shape", "features",
"error", "rows", "distinct_rows", "psql", "fastdos"}], "stats"}``.

``timing`` (bench/test_aiida_plugin_query.py): each query as a user runs it on both storages, alternately,
``rounds`` times -> per query best/median seconds per side, equality, acceleration and both EXPLAIN ANALYZEs.

``transaction``: ORM rows stored inside ``storage.transaction()`` are seen by the plugin's accelerated
queries, and gone after the rollback -> ``{"inside", "after", "accelerated"}``.
"""

from __future__ import annotations

import datetime
import json
import sys
import uuid
from collections import Counter
from typing import Any


def make_storage(config: dict[str, Any], backend: str, standin: bool) -> Any:
    from aiida.manage.configuration.profile import Profile
    from aiida.storage.psql_dos import PsqlDosBackend

    profile = Profile(
        f"qbplugin_{backend.replace('.', '_')}",
        {
            "storage": {"backend": backend, "config": dict(config)},
            "process_control": {"backend": None, "config": {}},
            "default_user_email": "qb@example.org",
            "options": {},
        },
    )
    if backend == "core.psql_dos":
        return PsqlDosBackend(profile)
    from fastdos.aiida.querybuilder import FastdosQueryBuilder

    if standin:

        class StandIn(PsqlDosBackend):  # type: ignore[misc]
            def query(self) -> FastdosQueryBuilder:
                return FastdosQueryBuilder(self)

        return StandIn(profile)
    from fastdos.aiida.backend import FastdosStorage

    return FastdosStorage(profile)


def build(storage: Any, query: dict[str, Any]) -> Any:
    from aiida import orm

    classes = {"node": orm.Node, "group": orm.Group, "user": orm.User, "computer": orm.Computer,
               "comment": orm.Comment, "log": orm.Log, "authinfo": orm.AuthInfo}  # fmt: skip
    qb = orm.QueryBuilder(backend=storage)
    for vertex in query["vertices"]:
        kwargs: dict[str, Any] = {"tag": vertex["tag"], "filters": timestamps(vertex.get("filters") or {})}
        if vertex.get("rel"):
            kwargs[vertex["rel"][0]] = vertex["rel"][1]
        kwargs.update({k: v for k, v in vertex.items() if k.startswith("with_")})
        for key in ("edge_filters", "project", "edge_project", "edge_tag", "outerjoin"):
            if vertex.get(key) is not None:
                kwargs[key] = vertex[key]
        entity = vertex["entity"]
        if entity in classes:
            qb.append(classes[entity], subclassing=vertex.get("subclassing", True), **kwargs)
        else:
            qb.append(entity_type=entity, subclassing=vertex.get("subclassing", True), **kwargs)
    if query.get("order_by"):
        qb.order_by(query["order_by"])
    if query.get("limit") is not None:
        qb.limit(query["limit"])
    if query.get("offset") is not None:
        qb.offset(query["offset"])
    if query.get("distinct"):
        qb.distinct()
    return qb


def timestamps(value: Any) -> Any:
    """``{"$datetime": iso}`` in a JSON filter becomes a ``datetime`` (JSON has no time type)."""
    if isinstance(value, dict):
        if set(value) == {"$datetime"}:
            return datetime.datetime.fromisoformat(value["$datetime"])
        return {k: timestamps(v) for k, v in value.items()}
    if isinstance(value, list):
        return [timestamps(v) for v in value]
    return value


def norm(value: Any) -> Any:
    """A JSON-comparable stand-in of one result value (entities by class and pk)."""
    from aiida.orm.entities import Entity

    if isinstance(value, Entity):
        return ["entity", type(value).__name__, type(value.backend_entity).__name__, value.pk]
    if isinstance(value, (datetime.datetime, datetime.date)):
        return ["time", value.isoformat()]
    if isinstance(value, uuid.UUID):
        return ["UUID", str(value)]
    if isinstance(value, float):
        return ["float", repr(value)]
    if isinstance(value, dict):
        return {str(k): norm(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [norm(v) for v in value]
    return value


def run(storage: Any, query: dict[str, Any]) -> Any:
    method = query.get("method", "all")
    try:
        qb = build(storage, query)
        if method == "count":
            return {"value": qb.count()}
        if method == "first":
            return {"value": norm(qb.first())}
        if method == "one":
            return {"value": norm(qb.one())}
        if method == "all":
            rows = [norm(r) for r in qb.all(batch_size=query.get("batch_size"))]
        elif method == "iterall":
            rows = [norm(r) for r in qb.iterall(batch_size=query.get("batch_size", 100))]
        elif method == "dict":
            rows = [norm(r) for r in qb.dict(batch_size=query.get("batch_size"))]
        else:
            rows = [norm(r) for r in qb.iterdict(batch_size=query.get("batch_size", 100))]
    except Exception as exc:
        from sqlalchemy.exc import DBAPIError

        database = isinstance(exc, DBAPIError)
        return {"error": type(exc).__name__, "message": None if database else str(exc)}
    if query.get("ordered"):
        return {"rows": [json.dumps(r, sort_keys=True) for r in rows]}
    return {"rows": [list(item) for item in sorted(Counter(json.dumps(r, sort_keys=True) for r in rows).items())]}


def op_compare(args: dict[str, Any], psql: Any, fast: Any) -> dict[str, Any]:
    import logging

    from fastdos.aiida.querybuilder import FastdosQueryBuilder

    FastdosQueryBuilder.reset_stats()
    logged: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.append(record.getMessage())

    logger = logging.getLogger("fastdos.aiida.querybuilder")
    logger.addHandler(Collect(level=logging.DEBUG))
    logger.setLevel(logging.DEBUG)
    results = []
    for query in args["queries"]:
        want = run(psql, query)
        _IMPLS.clear()
        got = run(fast, query)
        impl = _last_impl(fast)
        plan = getattr(impl, "last_plan", None)
        results.append(
            {
                "equal": want == got,
                "accelerated": bool(plan and plan.accelerated),
                "reached": plan is not None,  # False: aiida's own QueryBuilder raised before the backend's
                "reason": plan.reason if plan else "not reached",
                "shape": plan.shape if plan else "",
                "features": list(plan.features) if plan else [],
                "error": want.get("error"),
                "rows": _total(want),
                "distinct_rows": len(want["rows"]) if "rows" in want else None,
                "psql": want if want != got else None,
                "fastdos": got if want != got else None,
            }
        )
    return {"results": results, "stats": dict(FastdosQueryBuilder.stats), "fallback_logs": logged}


def _total(result: dict[str, Any]) -> int | None:
    """Rows of a result, duplicates counted (None for a count, a single row or an error)."""
    rows = result.get("rows")
    if rows is None:
        return None
    return sum(n for _, n in rows) if rows and isinstance(rows[0], list) else len(rows)


_IMPLS: list[Any] = []


def _last_impl(storage: Any) -> Any:
    return _IMPLS[-1] if _IMPLS else None


def op_transaction(args: dict[str, Any], psql: Any, fast: Any) -> dict[str, Any]:
    from aiida import orm

    label = f"txn-{uuid.uuid4()}"

    def count() -> int:
        qb = orm.QueryBuilder(backend=fast).append(orm.Node, filters={"label": label, "attributes.k": 7})
        return qb.count()

    class Rollback(Exception):
        pass

    user = orm.QueryBuilder(backend=fast).append(orm.User).first()[0]
    inside = accelerated = None
    try:
        with fast.transaction():
            node = orm.Dict({"k": 7}, backend=fast, user=user)
            node.label = label
            node.store()
            inside = count()
            accelerated = _last_impl(fast).last_plan.accelerated
            raise Rollback  # leave the transaction by an exception: aiida rolls it back
    except Rollback:
        pass
    return {"inside": inside, "after": count(), "accelerated": accelerated}


def op_timing(args: dict[str, Any], psql: Any, fast: Any) -> dict[str, Any]:
    """Each query as a user runs it (``count()`` or ``all(flat=True)``) on both storages, alternating, ``rounds``
    times: best and median seconds per side, the results' equality, acceleration, and both EXPLAIN ANALYZEs."""
    import gc
    import statistics
    import time

    out = []
    for query in args["queries"]:
        times: dict[str, list[float]] = {"psql": [], "fastdos": []}
        results: dict[str, Any] = {}
        sides = [("psql", psql), ("fastdos", fast)]
        for round_ in range(int(args.get("rounds", 5))):
            # Alternate who goes first, and collect garbage outside the timed part: the ORM objects one side made
            # must not make the other side pay for the collection.
            for side, storage in sides if round_ % 2 == 0 else sides[::-1]:
                gc.collect()
                started = time.perf_counter()
                qb = build(storage, query)
                result = qb.count() if query.get("method") == "count" else qb.all(flat=True)
                times[side].append(time.perf_counter() - started)
                results[side] = result if isinstance(result, int) else sorted(json.dumps(norm(r)) for r in result)
        plan = _last_impl(fast).last_plan
        counting = query.get("method") == "count"
        aiida_qb = build(psql, query)
        fast_qb = build(fast, query)
        fast_impl = fast.query()
        explain_fastdos = fast_impl.explain(fast_qb.as_dict(), count=counting)
        out.append(
            {
                "psql_best": min(times["psql"]),
                "psql_median": statistics.median(times["psql"]),
                "fastdos_best": min(times["fastdos"]),
                "fastdos_median": statistics.median(times["fastdos"]),
                "equal": results["psql"] == results["fastdos"],
                "result": results["fastdos"] if counting else len(results["fastdos"]),
                "accelerated": plan.accelerated,
                "reason": plan.reason,
                "explain_aiida": aiida_qb.analyze_query(execute=True),
                "explain_fastdos": explain_fastdos,
            }
        )
    return {"results": out}


def main() -> int:
    args = json.loads(sys.stdin.read())
    psql = make_storage(args["storage"], "core.psql_dos", False)
    fast = make_storage(args["storage"], "fastdos", bool(args.get("standin")))
    original = type(fast).query

    def recording_query(self: Any) -> Any:  # remember the last builder so its last_plan can be read
        impl = original(self)
        _IMPLS[:] = [impl]
        return impl

    type(fast).query = recording_query
    result = {"compare": op_compare, "transaction": op_transaction, "timing": op_timing}[args.get("op", "compare")](
        args, psql, fast
    )
    result["storage_class"] = f"{type(fast).__module__}.{type(fast).__qualname__}"
    psql.close()
    fast.close()
    print("RESULT:" + json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
