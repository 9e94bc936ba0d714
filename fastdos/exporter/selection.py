"""Which rows an export writes: aiida-core's ``create_archive`` selection, computed inside PostgreSQL.

aiida-core collects the entities in the "reverse" order of their relationships (aiida/tools/archive/create.py):
the start groups give their member nodes; the start nodes plus those members are expanded by the EXPORT
traversal rules; then come the computers (the start ones plus those of the nodes), the authinfos of those
computers (only when asked), the comments and logs of the nodes, and every user that any of them refers to.
aiida walks the graph from Python one hop and rule at a time; here the walk is one recursive statement
(``graph/traverse``, the walk deletion uses too) and each dependent set is one statement over
the id arrays.

With ``all=True`` every row of every table is exported (aiida's ``entities=None``): no walk is needed.

All reads happen on one connection inside the caller's snapshot transaction (see :mod:`.writer`).
"""

from __future__ import annotations

import functools
import uuid as uuid_module
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .. import db
from .. import rules as rulesets
from ..ids import array_literal as array
from .report import ExportError, ExportValidationError

# aiida-core lists every unsealed pk in its message; fastdos names the first ones so it stays one line.
MAX_NAMED = 20


@dataclass
class Selection:
    """The ids of everything an export writes (the one part of an export that is held in memory)."""

    nodes: list[int]
    groups: list[int]
    computers: list[int]
    users: list[int]
    include_comments: bool
    include_logs: bool
    include_authinfos: bool
    counts: dict[str, int] = field(default_factory=dict)
    starting: dict[str, list[str]] | None = None  # aiida's metadata 'entities_starting_set' (None: everything)
    everything: bool = False

    @functools.cached_property
    def node_array(self) -> str:
        """The node ids as one array literal: ``{}`` when everything is exported (the queries then read all)."""
        return "{}" if self.everything else array(self.nodes)


def _split(values: Iterable[object] | None, what: str) -> tuple[list[int], list[str]]:
    """Identifiers given as pks (int) or as text (uuid, label or email); anything else is a TypeError."""
    if values is None:
        return [], []
    if isinstance(values, (str, bytes, int)):
        values = [values]
    pks: list[int] = []
    names: list[str] = []
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool):
            pks.append(value)
        elif isinstance(value, str):
            names.append(value)
        else:
            raise TypeError(f"a {what} must be given by pk or identifier, got {type(value).__name__} {value!r}")
    bad = [pk for pk in pks if pk < 1 or pk > 2**31 - 1]
    if bad:
        raise ExportError(f"no {what} with pk {', '.join(map(str, bad))}")
    return pks, names


def _find(conn: db.Connection, name: str, what: str, values: Iterable[object] | None) -> tuple[list[int], list[str]]:
    """Resolve identifiers to ids (input order, duplicates once) and the uuid/email of each; unknown ones raise."""
    pks, texts = _split(values, what)
    if not pks and not texts:
        return [], []
    rows = db.all_rows(conn, name, {"pks": pks, "texts": texts})
    by_pk = {int(row[0]): row for row in rows}
    by_text: dict[str, tuple[Any, ...]] = {}
    for row in rows:
        for text in row[1:]:
            by_text.setdefault(str(text), row)
    missing = [str(pk) for pk in pks if pk not in by_pk]
    found: dict[int, str] = {}
    for pk in pks:
        if pk in by_pk:
            found[pk] = str(by_pk[pk][1])
    for text in texts:
        match = by_text.get(text) or by_text.get(_normal_uuid(text))
        if match is None:
            missing.append(repr(text))
        else:
            found[int(match[0])] = str(match[1])
    if missing:
        raise ExportError(f"no {what} with the identifier(s) {', '.join(missing)}")
    return list(found), list(found.values())


def _normal_uuid(text: str) -> str:
    try:
        return str(uuid_module.UUID(text))
    except ValueError:
        return text


def select(
    conn: db.Connection,
    *,
    nodes: Iterable[object] | None,
    groups: Iterable[object] | None,
    computers: Iterable[object] | None,
    users: Iterable[object] | None,
    everything: bool,
    include_comments: bool,
    include_logs: bool,
    include_authinfos: bool,
    directions: rulesets.Directions,
) -> Selection:
    """The selection of an export (aiida-core's), ids ascending.

    :raises ExportError: an unknown node, group, computer or user (all of them named), an empty selection.
    :raises ExportValidationError: an unsealed process node among the exported ones (aiida's rule).
    """
    if everything:
        ids = {
            table: [int(r[0]) for r in db.all_rows(conn, "export/all_ids", identifiers={"table": table})]
            for table in ("db_dbnode", "db_dbgroup", "db_dbcomputer", "db_dbuser")
        }
        node_ids, group_ids, computer_ids = ids["db_dbnode"], ids["db_dbgroup"], ids["db_dbcomputer"]
        user_ids = ids["db_dbuser"]
        starting = None
    else:
        start_nodes, node_uuids = _find(conn, "export/find_nodes", "node", nodes)
        group_ids, group_uuids = _find(conn, "export/find_groups", "group", groups)
        start_computers, computer_uuids = _find(conn, "export/find_computers", "computer", computers)
        start_users, user_emails = _find(conn, "export/find_users", "user", users)
        if not (start_nodes or group_ids or start_computers or start_users):
            raise ExportError("nothing to export: give nodes, groups, computers or users, or all=True")
        node_ids = sorted(
            int(r[0])
            for r in db.all_rows(
                conn,
                "graph/traverse",
                {
                    "ids": array(sorted(start_nodes)),
                    "group_ids": array(sorted(group_ids)),
                    "forward": list(directions.forward),
                    "backward": list(directions.backward),
                },
            )
        )
        group_ids = sorted(group_ids)
        nodes_literal = array(node_ids)
        computer_ids = [
            int(r[0])
            for r in db.all_rows(
                conn, "export/computer_ids", {"computer_ids": array(start_computers), "ids": nodes_literal}
            )
        ]
        user_ids = [
            int(r[0])
            for r in db.all_rows(
                conn,
                "export/user_ids",
                {
                    "user_ids": array(start_users),
                    "ids": nodes_literal,
                    "group_ids": array(group_ids),
                    "computer_ids": array(computer_ids),
                    "comments": include_comments,
                    "authinfos": include_authinfos,
                },
            )
        ]
        starting = {
            name: uuids
            for name, uuids in (
                ("user", user_emails),
                ("computer", computer_uuids),
                ("group", group_uuids),
                ("node", node_uuids),
            )
            if uuids
        }
    selection = Selection(
        node_ids,
        group_ids,
        computer_ids,
        user_ids,
        include_comments,
        include_logs,
        include_authinfos,
        starting=starting,
        everything=everything,
    )
    nodes_param = {"everything": everything, "ids": selection.node_array}
    if node_ids:
        unsealed = [int(r[0]) for r in db.all_rows(conn, "export/unsealed", nodes_param)]
        if unsealed:
            shown = ", ".join(map(str, unsealed[:MAX_NAMED])) + (" ..." if len(unsealed) > MAX_NAMED else "")
            raise ExportValidationError(
                "All ProcessNodes must be sealed before they can be exported. "
                f"Node(s) with PK(s): {shown} is/are not sealed."
            )
    row = db.one(
        conn,
        "export/counts",
        {
            **nodes_param,
            "group_ids": array(group_ids),
            "computer_ids": array(computer_ids),
            "comments": include_comments,
            "logs": include_logs,
            "authinfos": include_authinfos,
        },
    )
    assert row is not None
    authinfos, comments, logs, group_nodes, links = (int(value) for value in row)
    selection.counts = {
        "users": len(user_ids),
        "computers": len(computer_ids),
        "authinfos": authinfos,
        "groups": len(group_ids),
        "nodes": len(node_ids),
        "comments": comments,
        "logs": logs,
        "group_nodes": group_nodes,
        "links": links,
    }
    return selection
