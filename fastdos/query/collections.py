"""Collections: ``backend.nodes``, ``users``, ``computers``, ``groups``, ``comments``, ``logs``, ``authinfos``.

Rows come back as plain dicts (column -> value, UUIDs as strings); reads are sugar over the
:class:`~fastdos.query.builder.QueryBuilder`, writes are fixed statements in ``sql/query/`` that take the
whole id set as one array. No ORM objects, no per-row queries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .. import db, graph, ids
from ..context import context_of
from ..errors import MultipleObjectsError, NotExistent, ValidationError
from .builder import DEFAULT_BATCH_SIZE, QueryBuilder
from .entities import ENTITIES, Entity

if TYPE_CHECKING:
    from ..context import HasContext, StorageContext


def check_ids(pks: Iterable[int], what: str = "pk") -> list[int]:
    """The ids as a list of ints (order kept, duplicates kept); :func:`fastdos.ids.check_ids`' errors."""
    return ids.check_ids(pks, what, unique=False)


class Collection:
    """The rows of one entity table."""

    entity: Entity

    def __init__(self, storage: StorageContext | HasContext, entity: str) -> None:
        self._context = context_of(storage)
        self.entity = ENTITIES[entity]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._context!r}>"

    def _query(self, filters: Mapping[str, Any] | None = None) -> QueryBuilder:
        return QueryBuilder(self._context).append(self.entity.name, tag="row", filters=filters or {}, project="*")

    def get(self, pk: int | None = None, *, uuid: str | None = None, id: int | None = None) -> dict[str, Any]:
        """The row with this ``pk`` (or ``id``, aiida's other name for it) or ``uuid`` (exactly one of them).

        :raises NotExistent: no such row. :raises MultipleObjectsError: more than one (cannot happen on ids).
        """
        if id is not None:
            if pk is not None:
                raise ValidationError("give exactly one of pk=, id= and uuid=")
            pk = id
        if (pk is None) == (uuid is None):
            raise ValidationError("give exactly one of pk=, id= and uuid=")
        if pk is not None:
            filters: dict[str, Any] = {"id": check_ids([pk])[0]}
        else:
            if "uuid" not in self.entity.columns:
                raise ValidationError(f"{self.entity.name} has no uuid")
            filters = {"uuid": uuid}
        rows = self._query(filters).limit(2).dict()
        if not rows:
            raise NotExistent(
                f"no {self.entity.name} with {'pk' if pk is not None else 'uuid'}={pk if pk is not None else uuid!r}"
            )
        if len(rows) > 1:
            raise MultipleObjectsError(f"more than one {self.entity.name} with uuid={uuid!r}")
        return rows[0]["row"]

    def get_many(self, pks: Iterable[int]) -> list[dict[str, Any]]:
        """The rows of ``pks`` in input order (one query). :raises NotExistent: naming the missing ids."""
        ids = check_ids(pks)
        if not ids:
            return []
        found = {row["row"]["id"]: row["row"] for row in self._query({"id": {"in": sorted(set(ids))}}).dict()}
        missing = [pk for pk in dict.fromkeys(ids) if pk not in found]
        if missing:
            raise NotExistent(f"no {self.entity.name} with pk {_few(missing)}")
        return [found[pk] for pk in ids]

    def count(self, filters: Mapping[str, Any] | None = None, **by_property: Any) -> int:
        """How many rows match (QueryBuilder filters; ``count(label='x')`` is ``count({'label': 'x'})``)."""
        return QueryBuilder(self._context).append(self.entity.name, filters={**(filters or {}), **by_property}).count()

    def iter(
        self, filters: Mapping[str, Any] | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE, **by_property: Any
    ) -> Iterator[dict[str, Any]]:
        """Stream the matching rows as dicts through a server-side cursor, ``batch_size`` per round trip."""
        for row in self._query({**(filters or {}), **by_property}).order_by({"row": "id"}).iterdict(batch_size):
            yield row["row"]

    def _missing(self, conn: db.Connection, ids: list[int]) -> None:
        found = {
            row[0]
            for row in db.all_rows(conn, "query/existing_ids", {"ids": ids}, identifiers={"table": self.entity.table})
        }
        missing = [pk for pk in dict.fromkeys(ids) if pk not in found]
        if missing:
            raise NotExistent(f"no {self.entity.name} with pk {_few(missing)}")

    def delete(self, pk: int) -> None:
        """Delete one row (see :meth:`delete_many`)."""
        self.delete_many([pk])

    def delete_many(self, pks: Iterable[int]) -> int:
        """Delete rows set-wise in one transaction, obeying the schema's foreign-key rules.

        :raises NotExistent: an id does not exist (nothing is deleted).
        :returns: the number of rows deleted.
        """
        ids = sorted(set(check_ids(pks)))
        if not ids:
            return 0
        with self._context.transaction() as conn:
            self._missing(conn, ids)
            self._before_delete(conn, ids)
            return db.run(conn, "query/delete_rows", {"ids": ids}, identifiers={"table": self.entity.table})

    def _before_delete(self, conn: db.Connection, ids: list[int]) -> None:
        """Entity-specific checks and dependent rows (inside the delete transaction)."""

    def _refuse_if_used(self, conn: db.Connection, ids: list[int], column: str) -> None:
        usage = db.all_rows(conn, "query/node_usage", {"ids": ids}, identifiers={"column": column})
        if usage:
            total = sum(int(n) for _, n in usage)
            detail = ", ".join(f"{self.entity.name} {pk} by {n} node{'s' if n != 1 else ''}" for pk, n in usage[:10])
            raise ValidationError(
                f"cannot delete: {total} node{'s' if total != 1 else ''} still use{'s' if total == 1 else ''} "
                f"the {self.entity.name} ({detail}); delete or reassign those nodes first"
            )


class NodeCollection(Collection):
    """``backend.nodes``: deleting goes through ``delete_nodes_and_connections`` (no graph traversal)."""

    def __init__(self, storage: StorageContext | HasContext) -> None:
        super().__init__(storage, "node")

    def delete_many(self, pks: Iterable[int]) -> int:
        """Delete exactly these nodes with their links and group memberships (comments and logs cascade).

        Unlike ``delete_nodes`` no traversal rule is applied: the provenance of other nodes may be left
        incomplete. :raises NotExistent: an id does not exist (nothing is deleted).
        """
        ids = sorted(set(check_ids(pks)))
        if not ids:
            return 0
        with self._context.transaction() as conn:
            self._missing(conn, ids)
            graph.delete_nodes_and_connections(self._context, ids)
        return len(ids)


class UserCollection(Collection):
    """``backend.users``: a user referenced by nodes cannot be deleted; its groups, authinfos, comments go."""

    def __init__(self, storage: StorageContext | HasContext) -> None:
        super().__init__(storage, "user")

    def _before_delete(self, conn: db.Connection, ids: list[int]) -> None:
        self._refuse_if_used(conn, ids, "user_id")
        db.run(conn, "query/delete_user_group_members", {"ids": ids})


class ComputerCollection(Collection):
    """``backend.computers``: a computer referenced by nodes cannot be deleted; its authinfos go with it."""

    def __init__(self, storage: StorageContext | HasContext) -> None:
        super().__init__(storage, "computer")

    def _before_delete(self, conn: db.Connection, ids: list[int]) -> None:
        self._refuse_if_used(conn, ids, "dbcomputer_id")


class GroupCollection(Collection):
    """``backend.groups``: deleting a group removes its memberships (the nodes stay); membership helpers."""

    def __init__(self, storage: StorageContext | HasContext) -> None:
        super().__init__(storage, "group")

    def _before_delete(self, conn: db.Connection, ids: list[int]) -> None:
        db.run(conn, "query/delete_group_members", {"ids": ids})

    def _group_and_nodes(self, conn: db.Connection, group: int, pks: Iterable[int]) -> list[int]:
        group_id = check_ids([group], "group pk")[0]
        self._missing(conn, [group_id])
        ids = sorted(set(check_ids(pks, "node pk")))
        if ids:
            found = {
                row[0]
                for row in db.all_rows(conn, "query/existing_ids", {"ids": ids}, identifiers={"table": "db_dbnode"})
            }
            missing = [pk for pk in ids if pk not in found]
            if missing:
                raise NotExistent(f"no node with pk {_few(missing)}")
        return ids

    def add_nodes(self, group: int, pks: Iterable[int]) -> int:
        """Add nodes to group ``group`` (pk) in one statement; returns how many were new members.

        :raises NotExistent: the group or a node does not exist (nothing is added).
        """
        with self._context.transaction() as conn:
            ids = self._group_and_nodes(conn, group, pks)
            return db.run(conn, "query/group_add_nodes", {"group_id": group, "ids": ids}) if ids else 0

    def remove_nodes(self, group: int, pks: Iterable[int]) -> int:
        """Remove nodes from group ``group`` in one statement; returns how many memberships were removed."""
        with self._context.transaction() as conn:
            ids = self._group_and_nodes(conn, group, pks)
            return db.run(conn, "query/group_remove_nodes", {"group_id": group, "ids": ids}) if ids else 0

    def clear(self, group: int) -> int:
        """Remove every node from group ``group``; returns how many memberships were removed."""
        with self._context.transaction() as conn:
            self._group_and_nodes(conn, group, [])
            return db.run(conn, "query/group_clear", {"group_id": group})

    def node_pks(self, group: int) -> list[int]:
        """The pks of the nodes in group ``group``, ascending."""
        qb = QueryBuilder(self._context).append("group", tag="g", filters={"id": group})
        qb.append("node", with_group="g", project="id").order_by({"node_2": "id"})
        return qb.all(flat=True)


class CommentCollection(Collection):
    """``backend.comments``."""

    def __init__(self, storage: StorageContext | HasContext) -> None:
        super().__init__(storage, "comment")


class LogCollection(Collection):
    """``backend.logs``."""

    def __init__(self, storage: StorageContext | HasContext) -> None:
        super().__init__(storage, "log")


class AuthInfoCollection(Collection):
    """``backend.authinfos``."""

    def __init__(self, storage: StorageContext | HasContext) -> None:
        super().__init__(storage, "authinfo")


def _few(ids: list[int], shown: int = 10) -> str:
    text = ", ".join(str(i) for i in ids[:shown])
    return text + (f" (and {len(ids) - shown} more)" if len(ids) > shown else "")
