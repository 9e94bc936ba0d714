"""The content of an AiiDA archive file as plain data, to compare two archives entity by entity.

Runs in fastdos' venv with the standard library only. Both archives of a comparison are exported from the
same storage, so the pks of users, computers, authinfos, groups, nodes, comments and logs are the storage's
own on both sides and are compared as they are; links and group memberships are numbered anew by the writer,
so they are compared as sets of their other columns. JSON columns are parsed (two writers may print the same
JSON differently); repository members are compared by the sha256 of their content.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tempfile
import zipfile
from pathlib import Path
from typing import Any

_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    # table: (query, JSON columns)
    "users": ("SELECT id, email, first_name, last_name, institution FROM db_dbuser", ()),
    "computers": (
        "SELECT id, uuid, label, hostname, description, scheduler_type, transport_type, metadata FROM db_dbcomputer",
        ("metadata",),
    ),
    "authinfos": (
        "SELECT id, aiidauser_id, dbcomputer_id, metadata, auth_params, enabled FROM db_dbauthinfo",
        ("metadata", "auth_params"),
    ),
    "groups": (
        "SELECT id, uuid, label, type_string, time, description, extras, user_id FROM db_dbgroup",
        ("extras",),
    ),
    "nodes": (
        "SELECT id, uuid, node_type, process_type, label, description, ctime, mtime, attributes, extras,"
        " repository_metadata, dbcomputer_id, user_id FROM db_dbnode",
        ("attributes", "extras", "repository_metadata"),
    ),
    "comments": ("SELECT id, uuid, dbnode_id, ctime, mtime, user_id, content FROM db_dbcomment", ()),
    "logs": (
        "SELECT id, uuid, time, loggername, levelname, dbnode_id, message, metadata FROM db_dblog",
        ("metadata",),
    ),
}
_SETS = {
    "links": "SELECT input_id, output_id, label, type FROM db_dblink",
    "group_nodes": "SELECT dbgroup_id, dbnode_id FROM db_dbgroup_dbnodes",
}
# metadata.json keys that differ between two runs (or name the writer).
VOLATILE_METADATA = ("ctime", "fastdos_version")


def archive_content(path: Path | str) -> dict[str, Any]:
    """``{"metadata", "names", "objects", "<table>": {id: row}, "links"/"group_nodes": sorted tuples}``."""
    result: dict[str, Any] = {}
    with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory() as tmp:
        infos = archive.infolist()
        result["names"] = [info.filename for info in infos]
        metadata = json.loads(archive.read("metadata.json"))
        result["metadata"] = {k: v for k, v in metadata.items() if k not in VOLATILE_METADATA}
        starting = result["metadata"].get("creation_parameters", {}).get("entities_starting_set") or {}
        for kind, uuids in starting.items():  # aiida-core writes a set: the order is arbitrary
            starting[kind] = sorted(uuids)
        objects: dict[str, str] = {}
        for info in infos:
            if info.filename.startswith("repo/"):
                objects[info.filename[len("repo/") :]] = hashlib.sha256(archive.read(info)).hexdigest()
        result["objects"] = objects
        db_path = Path(tmp) / "db.sqlite3"
        db_path.write_bytes(archive.read("db.sqlite3"))
        sqlite = sqlite3.connect(db_path)
        try:
            for name, (query, json_columns) in _TABLES.items():
                cursor = sqlite.execute(query)
                columns = [d[0] for d in cursor.description]
                table: dict[int, dict[str, Any]] = {}
                for row in cursor:
                    record = dict(zip(columns, row, strict=True))
                    for column in json_columns:
                        if record[column] is not None:
                            record[column] = json.loads(record[column])
                    table[record.pop("id")] = record
                result[name] = table
            for name, query in _SETS.items():
                result[name] = sorted(tuple(row) for row in sqlite.execute(query))
            # aiida-core's own writer orders the constraints of a table differently from one process to the
            # next (SQLAlchemy iterates a set), so a table's definition is compared as the set of its clauses.
            result["schema"] = sorted(
                (str(kind), str(table_name), tuple(sorted(str(sql).removesuffix("\n)").split(", \n"))))
                for kind, table_name, sql in sqlite.execute(
                    "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
                )
            )
        finally:
            sqlite.close()
    return result


def diff_content(expected: dict[str, Any], actual: dict[str, Any], limit: int = 40) -> list[str]:
    """Readable differences between two :func:`archive_content` results (``[]`` when they are equal)."""
    lines: list[str] = []
    for key in sorted(set(expected) | set(actual)):
        left, right = expected.get(key), actual.get(key)
        if left == right:
            continue
        if isinstance(left, dict) and isinstance(right, dict):
            lines += [f"{key}: missing {k!r}" for k in sorted(set(left) - set(right), key=str)]
            lines += [f"{key}: unexpected {k!r}" for k in sorted(set(right) - set(left), key=str)]
            for k in sorted(set(left) & set(right), key=str):
                if left[k] != right[k]:
                    lines.append(f"{key}[{k!r}]: expected {left[k]!r}, got {right[k]!r}")
        elif isinstance(left, list) and isinstance(right, list) and key != "names":
            lines += [f"{key}: missing {item!r}" for item in left if item not in right]
            lines += [f"{key}: unexpected {item!r}" for item in right if item not in left]
        else:
            lines.append(f"{key}: expected {left!r}, got {right!r}")
    return lines[:limit] + ([f"... {len(lines) - limit} more"] if len(lines) > limit else [])
