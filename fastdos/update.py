"""Bulk update: ``bulk_update(ctx, entity_type, rows)`` (aiida-core's contract: docs/storage-backend.md).

Rows → ``ON COMMIT DROP`` temp table by binary COPY (sorted by id) → one ``UPDATE ... FROM``; the ``mtime`` of
nodes and comments is bumped unless the rows give it (aiida's ``onupdate``). Ids that do not exist raise
``NotExistent`` naming them, and nothing is updated (aiida silently skips them; fastdos treats a missing id as
a caller error, like a failed lookup).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from psycopg import sql

from . import db
from .clock import now as local_now
from .errors import NotExistent
from .ingest import column_list, copy_types
from .rows import Column, Entity, EntityTypes, entity, update_plan, update_rows

if TYPE_CHECKING:
    from .context import StorageContext

_UPDATE_TABLE = "fastdos_bulk_update"


def bulk_update(ctx: StorageContext, entity_type: EntityTypes | str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Update columns of existing rows by ``id`` (``bulk_update``, docs/storage-backend.md#bulk_update).

    Every row needs ``id`` and a subset of the columns (``_metadata`` for the metadata columns). Node and
    comment ``mtime`` is set to now unless the row gives it. A later row for the same id wins.

    :raises IntegrityError: unknown entity type, ``id`` missing, unknown keys, or a violated constraint.
    :raises NotExistent: some ids have no row (named); nothing is updated.
    :raises ValidationError: a value of the wrong type or JSON that cannot be stored.
    """
    spec = entity(entity_type)
    if not rows:
        return
    batches = []
    for keyset, group in update_plan(spec, rows).items():
        columns = [c for c in spec.columns if c.row_key in keyset]
        batches.append((columns, update_rows(columns, group)))
    now = local_now()
    with ctx.transaction() as conn:
        for columns, prepared in batches:
            _update(conn, spec, columns, prepared, now)


def _update(
    conn: db.Connection, spec: Entity, columns: list[Column], prepared: list[tuple[Any, ...]], now: Any
) -> None:
    names = ["id", *(c.name for c in columns)]
    db.run(
        conn,
        "ingest/create_update_table",
        identifiers={"temp": _UPDATE_TABLE, "table": spec.table, "columns": column_list(names)},
    )
    with db.copy(
        conn,
        "ingest/copy_rows",
        identifiers={"table": _UPDATE_TABLE, "columns": column_list(names)},
        types=copy_types(spec, columns),
    ) as copy:
        write = copy.write_row
        for row in prepared:
            write(row)
    # Rows that give only an id still bump mtime; "id = s.id" keeps the SET list non-empty (same value).
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = s.{}").format(sql.Identifier(c.name), sql.Identifier(c.name))
        for c in columns or [Column("id", "int")]
    )
    identifiers = {"table": spec.table, "temp": _UPDATE_TABLE, "assignments": assignments}
    if spec.onupdate is not None and spec.onupdate not in names:
        updated = db.run(
            conn, "ingest/update_from_bumping", {"now": now}, identifiers={**identifiers, "bumped": spec.onupdate}
        )
    elif columns:
        updated = db.run(conn, "ingest/update_from", identifiers=identifiers)
    else:  # rows with only an id and no onupdate column: nothing to set, but the ids must exist
        updated = len(prepared) - len(_missing(conn, spec))
    if updated != len(prepared):
        missing = _missing(conn, spec)
        raise NotExistent(f"bulk_update of {spec.type}: no rows with ids {missing}; nothing was updated")
    db.run(conn, "ingest/drop_temp", identifiers={"temp": _UPDATE_TABLE})


def _missing(conn: db.Connection, spec: Entity) -> list[int]:
    found = db.scalar(conn, "ingest/missing_ids", identifiers={"temp": _UPDATE_TABLE, "table": spec.table})
    return list(found or [])
