"""aiida-core side of tests/test_aiida_plugin.py: runs in ``.venv-aiida`` on a profile of AiiDA's config.json.

Same protocol as ``ops.py`` (JSON arguments on stdin with ``-``, ``RESULT:<json>`` on the last line, exit 3
for an aiida exception). ``AIIDA_PATH`` points at the test's AiiDA folder, where ``verdi profile setup``
created the profiles; ``{"profile": NAME}`` selects one. Every operation works through aiida-core's public
API (``load_profile``, ``aiida.orm``, ``get_manager().get_profile_storage()``), so the same call runs on a
``core.psql_dos`` profile and on a ``fastdos`` one and the test compares the two results.

Operations:
  info        storage class, entry point and ``get_info(detailed=True)``
  store_load  stores a small graph with the ORM (a file in the repository included), loads it back
  visibility  the transaction contract: ORM <-> bulk_insert/bulk_update/delete inside ``transaction()``,
              rollback, a second connection seeing nothing before the commit
  bulk        a scenario of bulk_insert/bulk_update/delete_nodes_and_connections on every entity type;
              returns an id-free snapshot of what it wrote
  bad_inputs  the errors aiida-core's API raises for bad calls, as {"type", "message"} per case
  chain       bulk-inserts a chain of N calculation/data nodes linked CREATE/INPUT_CALC -> {"pks"}
  orphans     puts N objects in the repository that no node references -> {"keys"}
  keyset      ``get_unreferenced_keyset()`` -> {"keys"}
  counts      node/link/group-member counts -> {...}
"""

from __future__ import annotations

import io
import json
import sys
import uuid as uuidlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ops import run  # tests/aiida/ops.py, beside this file

T0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def storage(args: dict[str, Any]) -> Any:
    from aiida import load_profile
    from aiida.manage import get_manager

    load_profile(args["profile"], allow_switch=True)
    return get_manager().get_profile_storage()


def uid(tag: str, name: str) -> str:
    """A uuid that is the same in every run for the same tag and name (both profiles get equal rows)."""
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"fastdos-test/{tag}/{name}"))


def node_row(tag: str, name: str, user_id: int, **extra: Any) -> dict[str, Any]:
    row = {
        "uuid": uid(tag, name),
        "node_type": "data.core.int.Int.",
        "process_type": None,
        "label": f"{tag}-{name}",
        "description": "",
        "ctime": T0,
        "mtime": T0,
        "attributes": {"value": len(name)},
        "extras": {"tag": tag},
        "repository_metadata": {},
        "dbcomputer_id": None,
        "user_id": user_id,
    }
    row.update(extra)
    return row


def snapshot(backend: Any, tag: str) -> dict[str, Any]:
    """Rows of the scenario ``tag`` (its users, computers, nodes, links, groups, logs, comments), id-free."""
    from sqlalchemy import text

    session = backend.get_session()
    like = {"tag": f"{tag}-%"}
    queries = {
        "users": "SELECT email, first_name, last_name, institution FROM db_dbuser WHERE email LIKE :tag",
        "computers": "SELECT label, hostname, description, scheduler_type, transport_type, metadata::text"
        " FROM db_dbcomputer WHERE label LIKE :tag",
        "nodes": "SELECT n.uuid::text, n.node_type, n.process_type, n.label, n.description, n.ctime::text,"
        " n.mtime > n.ctime AS touched, n.attributes::text, n.extras::text, n.repository_metadata::text,"
        " c.label AS computer, u.email FROM db_dbnode n JOIN db_dbuser u ON u.id = n.user_id"
        " LEFT JOIN db_dbcomputer c ON c.id = n.dbcomputer_id WHERE n.label LIKE :tag",
        "links": "SELECT i.label, o.label, l.type, l.label FROM db_dblink l JOIN db_dbnode i ON i.id = l.input_id"
        " JOIN db_dbnode o ON o.id = l.output_id WHERE i.label LIKE :tag OR o.label LIKE :tag",
        "groups": "SELECT g.label, g.type_string, g.description, g.extras::text, u.email,"
        " coalesce((SELECT array_agg(n.label ORDER BY n.label) FROM db_dbgroup_dbnodes m"
        " JOIN db_dbnode n ON n.id = m.dbnode_id WHERE m.dbgroup_id = g.id), '{}')"
        " FROM db_dbgroup g JOIN db_dbuser u ON u.id = g.user_id WHERE g.label LIKE :tag",
        "logs": "SELECT n.label, l.loggername, l.levelname, l.message, l.metadata::text FROM db_dblog l"
        " JOIN db_dbnode n ON n.id = l.dbnode_id WHERE n.label LIKE :tag",
        "comments": "SELECT n.label, c.content, c.mtime > c.ctime FROM db_dbcomment c"
        " JOIN db_dbnode n ON n.id = c.dbnode_id WHERE n.label LIKE :tag",
    }
    result = {}
    for name, query in queries.items():
        rows = session.execute(text(query), like).fetchall()
        result[name] = sorted([list(map(_plain, row)) for row in rows], key=json.dumps)
    session.rollback()
    return result


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def outcome(call: Any) -> dict[str, Any]:
    """Run ``call``; its result, or the exception's type (module-qualified) and message."""
    try:
        value = call()
    except Exception as exc:
        return {"type": f"{type(exc).__module__}.{type(exc).__name__}", "message": str(exc).split("\n")[0]}
    return {"value": _plain(value)}


def op_info(args: dict[str, Any]) -> dict[str, Any]:
    backend = storage(args)
    cls = type(backend)
    return {
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "entry_point": backend.profile.storage_backend,
        "str": str(backend),
        "info": backend.get_info(detailed=True),
    }


def op_store_load(args: dict[str, Any]) -> dict[str, Any]:
    from aiida import orm
    from aiida.common.links import LinkType

    storage(args)
    tag = args["tag"]
    value = orm.Int(7).store()
    params = orm.Dict({"a": [1, 2, {"b": None}], "c": "x"}).store()
    folder = orm.FolderData()
    folder.base.repository.put_object_from_filelike(io.BytesIO(f"payload {tag}".encode()), "sub/file.txt")
    calc = orm.CalcJobNode(process_type="aiida.calculations:core.arithmetic.add")
    calc.label = f"{tag}-calc"
    calc.base.links.add_incoming(value, LinkType.INPUT_CALC, "x")
    calc.base.links.add_incoming(params, LinkType.INPUT_CALC, "parameters")
    calc.store()
    folder.base.links.add_incoming(calc, LinkType.CREATE, "retrieved")
    folder.store()
    group = orm.Group(label=f"{tag}-group").store()
    group.add_nodes([value, params, calc])
    value.base.extras.set("seen", True)
    loaded = orm.load_node(calc.uuid)
    folder_loaded = orm.load_node(folder.pk)
    return {
        "int": orm.load_node(value.pk).value,
        "dict": orm.load_node(params.uuid).get_dict(),
        "extras": orm.load_node(value.pk).base.extras.all,
        "calc_label": loaded.label,
        "incoming": sorted(link.link_label for link in loaded.base.links.get_incoming().all()),
        "outgoing": sorted(link.link_label for link in loaded.base.links.get_outgoing().all()),
        "file": folder_loaded.base.repository.get_object_content("sub/file.txt"),
        "group_members": sorted(n.pk for n in orm.load_group(group.pk).nodes),
        "expected_members": sorted([value.pk, params.pk, calc.pk]),
    }


def _outside_count(backend: Any, uuids: list[str]) -> int:
    """How many of ``uuids`` a second, independent connection sees (only committed rows)."""
    import psycopg

    cfg = backend.profile.storage_config
    with psycopg.connect(
        host=cfg["database_hostname"] or None,
        port=cfg["database_port"],
        user=cfg["database_username"],
        password=cfg["database_password"] or None,
        dbname=cfg["database_name"],
        autocommit=True,
    ) as other:
        row = other.execute("SELECT count(*) FROM db_dbnode WHERE uuid = ANY(%s::uuid[])", (uuids,)).fetchone()
    return int(row[0])


def op_visibility(args: dict[str, Any]) -> dict[str, Any]:
    from aiida import orm
    from aiida.common import exceptions
    from aiida.orm.entities import EntityTypes

    backend = storage(args)
    tag = args["tag"]
    user_id = orm.User.collection.get_default().pk
    result: dict[str, Any] = {}

    # 1. bulk_insert inside a transaction: the ORM sees the rows there; a second connection does not.
    rows = [node_row(tag, f"in-{i}", user_id) for i in range(3)]
    uuids = [row["uuid"] for row in rows]
    with backend.transaction():
        pks = backend.bulk_insert(EntityTypes.NODE, rows)
        result["orm_sees_bulk_insert"] = [orm.load_node(pk).uuid for pk in pks] == uuids
        result["orm_count_in_tx"] = orm.QueryBuilder().append(orm.Node, filters={"uuid": {"in": uuids}}).count()
        result["other_connection_in_tx"] = _outside_count(backend, uuids)
    result["other_connection_after_commit"] = _outside_count(backend, uuids)

    # 2. bulk_insert then rollback: the rows vanish with the ORM's transaction.
    rows = [node_row(tag, f"rolled-{i}", user_id) for i in range(2)]
    try:
        with backend.transaction():
            pks = backend.bulk_insert(EntityTypes.NODE, rows)
            result["rollback_seen_before"] = orm.QueryBuilder().append(orm.Node, filters={"id": {"in": pks}}).count()
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    result["rollback_gone_orm"] = all(_missing(orm, pk) for pk in pks)
    result["rollback_gone_other"] = _outside_count(backend, [r["uuid"] for r in rows]) == 0

    # 3. ORM objects stored (flushed, not committed) are visible to the bulk paths in the same transaction.
    with backend.transaction():
        stored = orm.Int(5)
        stored.label = f"{tag}-orm"
        stored.store()
        result["orm_stored_other_before_commit"] = _outside_count(backend, [stored.uuid])
        backend.bulk_update(EntityTypes.NODE, [{"id": stored.pk, "label": f"{tag}-orm-updated"}])
        link_pk = backend.bulk_insert(
            EntityTypes.NODE, [node_row(tag, "child", user_id, node_type="data.core.int.Int.")]
        )[0]
        backend.bulk_insert(
            EntityTypes.LINK, [{"input_id": stored.pk, "output_id": link_pk, "type": "create", "label": "x"}]
        )
        result["bulk_insert_link_to_orm_node"] = (
            orm.QueryBuilder()
            .append(orm.Node, filters={"id": stored.pk}, tag="a")
            .append(orm.Node, with_incoming="a", project="id")
            .all(flat=True)
        ) == [link_pk]
    result["bulk_update_of_orm_node"] = orm.load_node(stored.pk).label

    # 4. delete_nodes_and_connections of an ORM node inside a transaction, then rollback: it is back.
    try:
        with backend.transaction():
            backend.delete_nodes_and_connections([stored.pk, link_pk])
            result["deleted_in_tx"] = _missing(orm, stored.pk)
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    result["delete_rolled_back"] = not _missing(orm, stored.pk) and not _missing(orm, link_pk)
    with backend.transaction():
        backend.delete_nodes_and_connections([link_pk])
    result["deleted_committed"] = _missing(orm, link_pk) and _outside_count(backend, [uid(tag, "child")]) == 0

    # 5. outside a transaction, bulk_insert commits (aiida-core's own behaviour).
    row = node_row(tag, "autocommit", user_id)
    backend.bulk_insert(EntityTypes.NODE, [row])
    result["outside_tx_committed"] = _outside_count(backend, [row["uuid"]])
    result["in_transaction_after"] = backend.in_transaction
    try:
        orm.load_node(stored.pk)
    except exceptions.NotExistent:
        result["orm_node_survives"] = False
    else:
        result["orm_node_survives"] = True
    return result


def _missing(orm: Any, pk: int) -> bool:
    from aiida.common import exceptions

    try:
        orm.load_node(pk)
    except exceptions.NotExistent:
        return True
    return False


def op_bulk(args: dict[str, Any]) -> dict[str, Any]:
    from aiida import orm
    from aiida.orm.entities import EntityTypes

    backend = storage(args)
    tag = args["tag"]
    n = int(args.get("n", 50))
    (user_id,) = backend.bulk_insert(
        EntityTypes.USER,
        [{"email": f"{tag}-user@example.org", "first_name": "A", "last_name": "B", "institution": "C"}],
    )
    comp_rows = [
        {
            "uuid": uid(tag, "computer"),
            "label": f"{tag}-computer",
            "hostname": "localhost",
            "description": "d",
            "scheduler_type": "core.direct",
            "transport_type": "core.local",
            "metadata": {"shebang": "#!/bin/bash"},
        }
    ]
    (computer_id,) = backend.bulk_insert(EntityTypes.COMPUTER, comp_rows)
    renamed = sorted(comp_rows[0])
    rows = [node_row(tag, f"n{i:03d}", user_id, attributes={"i": i, "f": i / 3, "s": "é" * (i % 3)}) for i in range(n)]
    rows[0]["dbcomputer_id"] = computer_id
    pks = backend.bulk_insert(EntityTypes.NODE, rows)
    defaults = backend.bulk_insert(
        EntityTypes.NODE,
        [{"uuid": uid(tag, "d0"), "node_type": "data.core.Data.", "label": f"{tag}-d0", "user_id": user_id,
          "ctime": T0, "mtime": T0}],
        allow_defaults=True,
    )  # fmt: skip
    links = [{"input_id": pks[i], "output_id": pks[i + 1], "type": "create", "label": f"l{i}"} for i in range(n - 1)]
    backend.bulk_insert(EntityTypes.LINK, links, allow_defaults=True)
    (group_id,) = backend.bulk_insert(
        EntityTypes.GROUP, [{"label": f"{tag}-group", "type_string": "core", "user_id": user_id}], allow_defaults=True
    )
    backend.bulk_insert(EntityTypes.GROUP_NODE, [{"dbgroup_id": group_id, "dbnode_id": pk} for pk in pks[:10]])
    backend.bulk_insert(
        EntityTypes.LOG,
        [{"uuid": uid(tag, "log"), "time": T0, "loggername": "x", "levelname": "REPORT", "dbnode_id": pks[1],
          "message": "m", "metadata": {"k": 1}}],
    )  # fmt: skip
    (comment_id,) = backend.bulk_insert(
        EntityTypes.COMMENT,
        [{"uuid": uid(tag, "comment"), "dbnode_id": pks[2], "ctime": T0, "mtime": T0, "content": "c",
          "user_id": user_id}],
    )  # fmt: skip
    backend.bulk_update(EntityTypes.NODE, [{"id": pk, "extras": {"tag": tag, "updated": True}} for pk in pks[::2]])
    backend.bulk_update(EntityTypes.NODE, [{"id": pks[3], "label": f"{tag}-relabelled", "attributes": {"x": [1]}}])
    backend.bulk_update(EntityTypes.COMMENT, [{"id": comment_id, "content": "edited"}])
    backend.bulk_update(EntityTypes.COMPUTER, [{"id": computer_id, "_metadata": {"shebang": "#!/bin/sh"}}])
    with backend.transaction():
        backend.delete_nodes_and_connections(pks[-5:])
    return {
        "ids_in_order": [orm.load_node(pk).uuid for pk in pks[:-5]] == [r["uuid"] for r in rows[:-5]],
        "defaults_node": orm.load_node(defaults[0]).base.attributes.all,
        "renamed_keys": renamed,
        "snapshot": snapshot(backend, tag),
        "count": orm.QueryBuilder().append(orm.Node, filters={"label": {"like": f"{tag}-%"}}).count(),
    }


def op_bad_inputs(args: dict[str, Any]) -> dict[str, Any]:
    from aiida import orm
    from aiida.orm.entities import EntityTypes

    backend = storage(args)
    tag = args["tag"]
    user_id = orm.User.collection.get_default().pk
    good = node_row(tag, "dup", user_id)
    backend.bulk_insert(EntityTypes.NODE, [good])
    existing = orm.QueryBuilder().append(orm.Node, filters={"uuid": good["uuid"]}, project="id").first(flat=True)
    cases = {
        "missing_key": lambda: backend.bulk_insert(EntityTypes.NODE, [{"uuid": uid(tag, "x")}]),
        "extra_key": lambda: backend.bulk_insert(EntityTypes.NODE, [{**node_row(tag, "y", user_id), "bogus": 1}]),
        "extra_key_defaults": lambda: backend.bulk_insert(EntityTypes.USER, [{"email": "e", "x": 1}], True),
        "id_given": lambda: backend.bulk_insert(EntityTypes.USER, [{"id": 5, "email": "e"}], True),
        "no_metadata": lambda: backend.bulk_insert(
            EntityTypes.COMPUTER, [{"label": f"{tag}-c", "hostname": "h"}], allow_defaults=True
        ),
        "duplicate_uuid": lambda: backend.bulk_insert(EntityTypes.NODE, [good]),
        "empty": lambda: backend.bulk_insert(EntityTypes.NODE, []),
        "update_no_id": lambda: backend.bulk_update(EntityTypes.NODE, [{"label": "x"}]),
        "update_bad_key": lambda: backend.bulk_update(EntityTypes.NODE, [{"id": existing, "bogus": 1}]),
        "update_missing_id": lambda: backend.bulk_update(
            EntityTypes.NODE, [{"id": existing, "label": f"{tag}-dup2"}, {"id": 2_000_000_000, "label": "zz"}]
        ),
        "update_empty": lambda: backend.bulk_update(EntityTypes.NODE, []),
        "delete_outside_tx": lambda: backend.delete_nodes_and_connections([existing]),
        "label_after_update": lambda: orm.load_node(existing).label,
        "node_survives": lambda: orm.load_node(existing).uuid == good["uuid"],
    }
    result = {}
    for name, call in cases.items():
        result[name] = outcome(call)
        backend.get_session().rollback()  # a failed statement leaves aiida's session to be rolled back
    return result


def op_chain(args: dict[str, Any]) -> dict[str, Any]:
    """A chain data -> calc -> data -> calc ...: deleting its first node deletes all of it (aiida's rules)."""
    from aiida import orm
    from aiida.orm.entities import EntityTypes

    backend = storage(args)
    tag = args["tag"]
    n = int(args["n"])
    user_id = orm.User.collection.get_default().pk
    rows = []
    for i in range(n):
        calc = i % 2 == 1
        rows.append(
            node_row(
                tag,
                f"c{i}",
                user_id,
                node_type="process.calculation.calcfunction.CalcFunctionNode." if calc else "data.core.int.Int.",
                process_type="aiida.calculations:test" if calc else None,
                ctime=T0 + timedelta(seconds=i),
            )
        )
    pks = backend.bulk_insert(EntityTypes.NODE, rows)
    links = []
    for i in range(n - 1):
        kind = "input_calc" if i % 2 == 0 else "create"
        links.append({"input_id": pks[i], "output_id": pks[i + 1], "type": kind, "label": f"l{i}"})
    backend.bulk_insert(EntityTypes.LINK, links)
    return {"pks": pks}


def op_orphans(args: dict[str, Any]) -> dict[str, Any]:
    backend = storage(args)
    repository = backend.get_repository()
    keys = [repository.put_object_from_filelike(io.BytesIO(f"{args['tag']}-{i}".encode())) for i in range(args["n"])]
    return {"keys": sorted(keys)}


def op_keyset(args: dict[str, Any]) -> dict[str, Any]:
    backend = storage(args)
    return {"keys": sorted(backend.get_unreferenced_keyset())}


def op_counts(args: dict[str, Any]) -> dict[str, Any]:
    from aiida import orm

    storage(args)
    qb = orm.QueryBuilder
    like = {"label": {"like": f"{args['tag']}-%"}} if args.get("tag") else {}
    return {
        "nodes": qb().append(orm.Node, filters=like).count(),
        "links": qb().append(orm.Node, tag="n", filters=like).append(orm.Node, with_incoming="n").count(),
        "groups": qb().append(orm.Group).count(),
    }


OPERATIONS = {
    "info": op_info,
    "store_load": op_store_load,
    "visibility": op_visibility,
    "bulk": op_bulk,
    "bad_inputs": op_bad_inputs,
    "chain": op_chain,
    "orphans": op_orphans,
    "keyset": op_keyset,
    "counts": op_counts,
}

if __name__ == "__main__":
    sys.exit(run(OPERATIONS, sys.argv))
