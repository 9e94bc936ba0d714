"""Canonical, id-free snapshots of a psql_dos storage, to compare two storages entity by entity.

Used to hold fastdos' archive import against aiida-core's (the reference import runs through
``tests/aiida/ops.py import_archive`` into a second storage on the same server). Database ids differ
between two storages, so every entity is keyed by its natural key instead (users by email, everything else
by uuid; links by their endpoint uuids; authinfos by computer uuid + user email) and every foreign key is
replaced by that key. Runs in fastdos' venv with plain psycopg; meant for test-sized storages (it holds the
whole snapshot in memory).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import psycopg

__all__ = ["diff_snapshots", "import_groups", "missing_objects", "referenced_keys", "snapshot", "without_import_groups"]

_QUERIES: dict[str, str] = {
    "users": "SELECT email, first_name, last_name, institution FROM db_dbuser",
    "computers": "SELECT uuid::text, label, hostname, description, scheduler_type, transport_type, metadata"
    " FROM db_dbcomputer",
    "nodes": "SELECT n.uuid::text, n.node_type, n.process_type, n.label, n.description, n.ctime, n.mtime,"
    " n.attributes, n.extras, n.repository_metadata, c.uuid::text AS computer, u.email AS user"
    " FROM db_dbnode n JOIN db_dbuser u ON u.id = n.user_id LEFT JOIN db_dbcomputer c ON c.id = n.dbcomputer_id",
    "groups": "SELECT g.uuid::text, g.label, g.type_string, g.description, g.extras, g.time, u.email AS user,"
    " coalesce((SELECT array_agg(n.uuid::text ORDER BY n.uuid::text) FROM db_dbgroup_dbnodes m"
    " JOIN db_dbnode n ON n.id = m.dbnode_id WHERE m.dbgroup_id = g.id), '{}') AS members"
    " FROM db_dbgroup g JOIN db_dbuser u ON u.id = g.user_id",
    "comments": "SELECT c.uuid::text, n.uuid::text AS node, u.email AS user, c.content, c.ctime, c.mtime"
    " FROM db_dbcomment c JOIN db_dbnode n ON n.id = c.dbnode_id JOIN db_dbuser u ON u.id = c.user_id",
    "logs": "SELECT l.uuid::text, n.uuid::text AS node, l.time, l.loggername, l.levelname, l.message, l.metadata"
    " FROM db_dblog l JOIN db_dbnode n ON n.id = l.dbnode_id",
    "authinfos": "SELECT c.uuid::text || ' ' || u.email AS key, a.enabled, a.auth_params, a.metadata"
    " FROM db_dbauthinfo a JOIN db_dbcomputer c ON c.id = a.dbcomputer_id JOIN db_dbuser u ON u.id = a.aiidauser_id",
}
_LINKS = (
    "SELECT i.uuid::text, o.uuid::text, l.type, l.label FROM db_dblink l"
    " JOIN db_dbnode i ON i.id = l.input_id JOIN db_dbnode o ON o.id = l.output_id"
)


def snapshot(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """``{entity: {natural key: {field: value}}}`` plus ``links``: a sorted list of (in, out, type, label)."""
    result: dict[str, Any] = {}
    for entity, query in _QUERIES.items():
        cur = conn.execute(query)
        names = [d.name for d in cur.description or []]
        table: dict[str, dict[str, Any]] = {}
        for row in cur:
            key, *values = row
            if key in table:
                raise AssertionError(f"{entity}: duplicate natural key {key!r}")
            table[key] = dict(zip(names[1:], values, strict=True))
        result[entity] = table
    result["links"] = sorted(tuple(r) for r in conn.execute(_LINKS))
    return result


def diff_snapshots(
    expected: Mapping[str, Any], actual: Mapping[str, Any], *, ignore: Collection[str] = (), limit: int = 50
) -> list[str]:
    """Human-readable differences (``[]`` when equal). ``ignore`` names fields (``"groups.label"``, ``"mtime"``)
    left out of the comparison; at most ``limit`` lines are returned.
    """
    lines: list[str] = []
    for entity in sorted(set(expected) | set(actual)):
        left, right = expected.get(entity), actual.get(entity)
        if entity == "links":
            left_set, right_set = set(map(tuple, left or [])), set(map(tuple, right or []))
            lines += [f"links: missing {link}" for link in sorted(left_set - right_set)]
            lines += [f"links: unexpected {link}" for link in sorted(right_set - left_set)]
            continue
        left, right = left or {}, right or {}
        lines += [f"{entity}: missing {key!r}" for key in sorted(set(left) - set(right))]
        lines += [f"{entity}: unexpected {key!r}" for key in sorted(set(right) - set(left))]
        for key in sorted(set(left) & set(right)):
            for field in sorted(set(left[key]) | set(right[key])):
                if field in ignore or f"{entity}.{field}" in ignore:
                    continue
                a, b = left[key].get(field), right[key].get(field)
                if a != b:
                    lines.append(f"{entity}[{key!r}].{field}: expected {a!r}, got {b!r}")
    return lines[:limit] + ([f"... {len(lines) - limit} more"] if len(lines) > limit else [])


def import_groups(snap: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``core.import`` groups of ``snap`` (new uuid, label and time on every import), oldest first."""
    groups = [g for g in snap["groups"].values() if g["type_string"] == "core.import"]
    return sorted(groups, key=lambda g: g["time"])


def without_import_groups(snap: Mapping[str, Any]) -> dict[str, Any]:
    """``snap`` minus its ``core.import`` groups, for comparing two imports of the same archive."""
    groups = {k: g for k, g in snap["groups"].items() if g["type_string"] != "core.import"}
    return {**snap, "groups": groups}


def referenced_keys(snap: Mapping[str, Any]) -> set[str]:
    """Every repository key referenced by a node's ``repository_metadata`` in ``snap``."""
    keys: set[str] = set()

    def walk(tree: Mapping[str, Any]) -> None:
        if "k" in tree:
            keys.add(tree["k"])
        for child in (tree.get("o") or {}).values():
            walk(child)

    for node in snap["nodes"].values():
        walk(node["repository_metadata"] or {})
    return keys


def missing_objects(snap: Mapping[str, Any], container: Path | str) -> list[str]:
    """Referenced keys that the disk-objectstore ``container`` lacks or whose content does not hash to the key."""
    import hashlib

    from disk_objectstore import Container

    keys = sorted(referenced_keys(snap))
    with Container(str(container)) as repo:
        present = repo.has_objects(keys)
        bad = [key for key, ok in zip(keys, present, strict=True) if not ok]
        good = [key for key, ok in zip(keys, present, strict=True) if ok]
        for key in good:
            digest = hashlib.sha256()
            with repo.get_object_stream(key) as stream:
                for chunk in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(chunk)
            if digest.hexdigest() != key:
                bad.append(key)
    return bad
