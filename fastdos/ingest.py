"""Bulk ingest (COPY) and bulk update: bulk_insert, bulk_insert_iter, bulk_update, group membership.

Insert: validate and serialise the first ``OVERLAP_ROWS`` rows of a batch (:mod:`fastdos.rows`) → reserve the
batch's ids with one statement on the table's sequence → one binary COPY of the rows *with* their ids straight
into the table, the later rows validated and converted part by part while the server works on the earlier ones
→ ids in input order. Every call is one transaction (a savepoint inside a caller's
:meth:`~fastdos.backend.Backend.transaction`), so a failure leaves nothing: a row refused in a later part aborts
the COPY and rolls it back (its reserved ids are skipped, as with any rolled-back insert in PostgreSQL).

Constraint checks: unique and NOT NULL violations fire during the COPY. The foreign keys of the schema are
``DEFERRABLE INITIALLY DEFERRED`` (docs/schema.md#foreign-keys); fastdos keeps that contract, so a caller may insert
links before their nodes inside one transaction. In a call's own transaction they are checked at its COMMIT, i.e.
still inside the call; inside a caller's transaction they are checked at the caller's COMMIT. Either way the
error is a fastdos ``IntegrityError`` naming the constraint.

Bulk update lives in :mod:`fastdos.update`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from . import db
from .errors import IntegrityError, ValidationError
from .ids import MAX_ID, is_id
from .rows import COPY_TYPES, JSON, Column, Entity, EntityTypes, entity, gc_paused, insert_rows

if TYPE_CHECKING:
    from .context import StorageContext

# Rows per COPY batch of bulk_insert_iter (bench/notes/ingest.md). For 10^5 generated nodes, batches of 2 000
# to 50 000 rows took 6.4-10.2 s with no trend (noise of the shared 2-core machine), while the peak memory
# above the rows themselves grew from ~1 MB (2 000-5 000) to +11 MB (20 000) and +33 MB (50 000).
DEFAULT_BATCH_SIZE = 10_000

# Load mode: memory for the index rebuilds and FK validations of one transaction (SET LOCAL only).
LOAD_MAINTENANCE_WORK_MEM = "256MB"

# From this many pairs add_nodes_to_groups first tries the memberships as all new (a binary COPY in a savepoint,
# _copy_memberships) and only on a pair that exists runs aiida's ON CONFLICT statement: speculative insertion
# made 10^5 memberships cost the server 50 % more (bench/notes/ingest.md). Below it the savepoint's round trips
# would cost more than the statement saves.
NEW_MEMBERS_FIRST = 1_000

# Rows converted at a time while the COPY runs (copy_rows, converted_parts). Converting a whole batch before
# sending anything leaves the server idle for the conversion: 10^4 / 10^5 nodes ran at 0.78x / 0.79x a
# pre-serialised raw COPY. In parts, the server parses and indexes one part while Python converts the next, as
# long as a part fits in the socket's send buffer (a Unix socket's is ~208 KB; 250 node rows are ~125 KB):
# parts of 50-250 rows gave 1.00-1.07x, 500 1.00-1.03x, 1,000 0.89-0.93x, 4,000 0.83-0.87x (embedded PG 18,
# best of 15 / 3 alternating rounds, bench/notes/ingest.md "Overlapping conversion and COPY"). Rows without JSON
# columns (links: ~50 bytes) take ten times as many: 250 links a part gave 0.92-0.95x, 2,500 0.98-0.99x.
OVERLAP_ROWS = 250
OVERLAP_ROWS_WITHOUT_JSON = 2_500

Progress = Callable[[int], None]


def column_list(names: Iterable[str]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(name) for name in names)


def copy_types(spec: Entity, columns: Sequence[Column] | None = None) -> list[str]:
    """Binary COPY types of ``id`` plus ``columns`` (default: every column of the entity)."""
    return ["int4", *(COPY_TYPES[c.kind] for c in (spec.columns if columns is None else columns))]


def copy_batch(conn: db.Connection, spec: Entity, prepared: Sequence[tuple[Any, ...]]) -> list[int]:
    """Reserve ids for ``prepared`` rows (validated tuples, table column order) and COPY them in; ids in order."""
    return copy_rows(conn, spec, len(prepared), [prepared])


def copy_rows(conn: db.Connection, spec: Entity, total: int, parts: Iterable[Sequence[tuple[Any, ...]]]) -> list[int]:
    """Reserve ids for ``total`` rows and COPY them in, taking the rows part by part from ``parts`` (validated
    tuples in table column order): a part is produced while the server still works on the previous ones
    (:func:`converted_parts`). The first part is taken before any statement. (Pipelining the id reservation with
    the conversion of the second part measured no faster: bench/notes/ingest.md.)"""
    chunks = iter(parts)
    ready = [next(chunks, [])]
    ids: list[int] = db.scalar(conn, "ingest/reserve_ids", {"table": spec.table, "n": total})
    columns = column_list(["id", *(c.name for c in spec.columns)])
    with db.copy(
        conn, "ingest/copy_rows", identifiers={"table": spec.table, "columns": columns}, types=copy_types(spec)
    ) as copy, gc_paused():  # (over the whole stream of parts, as over one converted batch: rows.gc_paused)
        write = copy.write_row
        done = 0
        for part in itertools.chain(ready, chunks):
            for pk, row in zip(ids[done : done + len(part)], part, strict=True):
                write((pk, *row))
            done += len(part)
    if done != total:
        raise ValueError(f"copy_rows: {done} rows given for {total} ids")
    return ids


def converted_parts(
    spec: Entity, rows: Sequence[Mapping[str, Any]], allow_defaults: bool, start: int = 0
) -> Iterator[list[tuple[Any, ...]]]:
    """``rows`` validated and converted (:func:`~fastdos.rows.insert_rows`) a part at a time (``OVERLAP_ROWS``), for
    :func:`copy_rows`: while Python converts one part, the server parses and indexes the part before it."""
    listed = rows if isinstance(rows, list) else list(rows)  # (slices of a list are lists: rows.py's fast check)
    size = OVERLAP_ROWS if any(c.kind == JSON for c in spec.columns) else OVERLAP_ROWS_WITHOUT_JSON
    for offset in range(0, len(listed), size):
        yield insert_rows(spec, listed[offset : offset + size], allow_defaults, start=start + offset)


class LoadMode:
    """Drops a table's plain indexes and foreign keys for a load and restores them from the catalog.

    Definitions are read with ``pg_get_indexdef``/``pg_get_constraintdef`` at run time (legacy databases
    name indexes differently, docs/schema.md#legacy-migrated-databases). Everything happens inside the caller's
    transaction, so a failed load rolls the DDL back with the rows: the schema is exactly as before. The
    foreign keys go and come back in one ``ALTER TABLE`` per table.
    """

    def __init__(
        self,
        conn: db.Connection,
        spec: Entity,
        *,
        indexes: bool = True,
        foreign_keys: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        """Read the table's definitions; with ``indexes=False`` only its foreign keys are dropped and restored.
        ``foreign_keys`` (name, definition) already read (:meth:`of_tables`) saves the catalog query."""
        self.conn, self.spec, self.rebuilds_indexes = conn, spec, indexes
        self.indexes = db.all_rows(conn, "ingest/plain_indexes", {"table": spec.table}) if indexes else []
        if foreign_keys is None:
            rows = db.all_rows(conn, "ingest/foreign_keys", {"table": spec.table})
            foreign_keys = [(str(name), str(definition)) for name, definition in rows]
        self.foreign_keys = list(foreign_keys)

    @classmethod
    def of_tables(cls, conn: db.Connection, specs: Sequence[Entity], *, indexes: bool) -> list[LoadMode]:
        """The load modes of several tables, their foreign keys read in one catalog query."""
        keys: dict[str, list[tuple[str, str]]] = {spec.table: [] for spec in specs}
        for table, name, definition in db.all_rows(conn, "ingest/foreign_keys_of_tables", {"tables": list(keys)}):
            keys[str(table)].append((str(name), str(definition)))
        return [cls(conn, spec, indexes=indexes, foreign_keys=keys[spec.table]) for spec in specs]

    def drop(self) -> None:
        """Drop the foreign keys and indexes (one statement each)."""
        self._set_memory()
        for name, identifiers in self.drops():
            db.run(self.conn, name, identifiers=identifiers)

    def restore(self) -> None:
        """Re-create the indexes, then re-add (and so validate) the foreign keys."""
        for name, identifiers in self.restores():
            db.run(self.conn, name, identifiers=identifiers)

    @staticmethod
    def drop_all(conn: db.Connection, loaders: Sequence[LoadMode]) -> None:
        """:meth:`drop` of several tables in one round trip."""
        for loader in loaders[:1]:
            loader._set_memory()
        db.run_together(conn, "ingest/drop_foreign_keys", [s for loader in loaders for s in loader.drops()])

    @staticmethod
    def restore_all(conn: db.Connection, loaders: Sequence[LoadMode]) -> None:
        """:meth:`restore` of several tables in one round trip."""
        db.run_together(conn, "ingest/add_foreign_keys", [s for loader in loaders for s in loader.restores()])

    def _set_memory(self) -> None:
        if self.rebuilds_indexes:  # index builds (and FK validations, run with it as work_mem) of big loads
            db.scalar(
                self.conn, "ingest/set_local", {"setting": "maintenance_work_mem", "value": LOAD_MAINTENANCE_WORK_MEM}
            )

    def drops(self) -> list[tuple[str, dict[str, str | sql.Composable]]]:
        """The statements of :meth:`drop`: (query name, identifiers)."""
        statements: list[tuple[str, dict[str, str | sql.Composable]]] = []
        if self.foreign_keys:
            drops = sql.SQL(", ").join(
                sql.SQL("DROP CONSTRAINT {}").format(sql.Identifier(name)) for name, _ in self.foreign_keys
            )
            statements.append(("ingest/drop_foreign_keys", {"table": self.spec.table, "drops": drops}))
        statements += [("ingest/drop_index", {"index": sql.Identifier(s, name)}) for s, name, _ in self.indexes]
        return statements

    def restores(self) -> list[tuple[str, dict[str, str | sql.Composable]]]:
        """The statements of :meth:`restore`: (query name, identifiers)."""
        # The definitions are text PostgreSQL itself produced for these objects moments ago.
        statements: list[tuple[str, dict[str, str | sql.Composable]]] = [
            ("ingest/create_index", {"definition": sql.SQL(definition)}) for _, _, definition in self.indexes
        ]
        if self.foreign_keys:
            additions = sql.SQL(", ").join(
                sql.SQL("ADD CONSTRAINT {} ").format(sql.Identifier(name)) + sql.SQL(definition)
                for name, definition in self.foreign_keys
            )
            statements.append(("ingest/add_foreign_keys", {"table": self.spec.table, "additions": additions}))
        return statements


def bulk_insert(
    ctx: StorageContext, entity_type: EntityTypes | str, rows: Sequence[Mapping[str, Any]], allow_defaults: bool = False
) -> list[int]:
    """Insert ``rows`` of one entity type; return their new ids in input order.

    Key rules of aiida-core (docs/storage-backend.md#bulk_insert): without ``allow_defaults`` every row has exactly the
    entity's keys, with it a subset and the missing columns get aiida's client-side defaults; ``id`` is never
    accepted; computer, log and authinfo rows give ``metadata``. Rows are not mutated.

    :raises IntegrityError: unknown entity type, wrong key set, or a violated database constraint
        (``.constraint`` names it); nothing of the call is kept.
    :raises ValidationError: a value of the wrong type or JSON that cannot be stored (names row and key).
    :raises KeyError: ``'metadata'`` missing (computer, log, authinfo), as in aiida.
    """
    spec = entity(entity_type)
    if not rows:
        return []
    parts = converted_parts(spec, rows, allow_defaults)
    first = next(parts)  # a wrong key set or value in the first part fails before any statement
    with ctx.transaction() as conn:
        return copy_rows(conn, spec, len(rows), itertools.chain([first], parts))


def bulk_insert_iter(
    ctx: StorageContext,
    entity_type: EntityTypes | str,
    rows: Iterable[Mapping[str, Any]],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    allow_defaults: bool = False,
    progress: Progress | None = None,
    on_ids: Callable[[list[int]], None] | None = None,
    load_mode: bool = False,
) -> int:
    """Stream rows of any number into one entity's table with bounded memory; return how many.

    Rows are taken ``batch_size`` at a time, validated, and COPY'd; ``on_ids(ids)`` receives each batch's
    new ids in input order and ``progress(rows_done)`` is called after each batch. The whole stream is
    one transaction (a savepoint inside a caller's): if a row is refused or ``rows`` raises midway,
    nothing of the call stays.

    ``load_mode=True`` is for large initial imports: the table's non-constraint indexes and its foreign
    keys are dropped before the first batch and re-created from their catalog definitions at the end,
    in the same transaction (re-adding a foreign key validates every row, so every constraint is still
    checked; a failure restores the schema). It takes an ACCESS EXCLUSIVE lock on the table for the
    whole load, and beats the plain path only when the rows are a large part of the table.
    """
    spec = entity(entity_type)
    if batch_size < 1:
        raise ValidationError(f"batch_size must be positive, got {batch_size}")
    done = 0
    with ctx.transaction() as conn:
        loader = LoadMode(conn, spec) if load_mode else None
        if loader is not None:
            loader.drop()
        iterator = iter(rows)
        while batch := list(itertools.islice(iterator, batch_size)):
            ids = copy_rows(conn, spec, len(batch), converted_parts(spec, batch, allow_defaults, start=done))
            del batch
            done += len(ids)
            if on_ids is not None:
                on_ids(ids)
            if progress is not None:
                progress(done)
        if loader is not None:
            loader.restore()
    return done


def _plain_pairs(pairs: list[Any]) -> tuple[list[int], list[int]] | None:
    """The two id columns of ``pairs`` when every pair is a 2-tuple of valid ids, checked column-wise in C-level
    builtins (as rows.py does for int/text rows); None when anything is off, for :func:`_checked_pairs` to name."""
    if not pairs or set(map(type, pairs)) != {tuple} or set(map(len, pairs)) != {2}:
        return None
    group_ids, node_ids = map(list, zip(*pairs, strict=True))
    for column in (group_ids, node_ids):
        if set(map(type, column)) != {int} or min(column) < 1 or max(column) > MAX_ID:
            return None
    return group_ids, node_ids


def _checked_pairs(pairs: list[Any]) -> tuple[list[int], list[int]]:
    """The two id columns of ``pairs``, pair by pair; ValidationError naming the first bad pair."""
    group_ids: list[int] = []
    node_ids: list[int] = []
    for index, pair in enumerate(pairs):
        try:
            group_id, node_id = pair
        except (TypeError, ValueError):
            raise ValidationError(f"pairs[{index}]: expected (group_id, node_id), got {pair!r:.80}") from None
        for value in (group_id, node_id):
            if not is_id(value):
                raise ValidationError(f"pairs[{index}]: expected positive 32-bit integer ids, got {pair!r:.80}")
        group_ids.append(group_id)
        node_ids.append(node_id)
    return group_ids, node_ids


def add_nodes_to_groups(ctx: StorageContext, pairs: Iterable[tuple[int, int]]) -> int:
    """Add ``(group_id, node_id)`` memberships, skipping those that exist; return how many were added.

    One set-wise ``INSERT ... ON CONFLICT (dbgroup_id, dbnode_id) DO NOTHING`` (aiida-core's statement); from
    :data:`NEW_MEMBERS_FIRST` pairs a binary COPY is tried first in a savepoint (the common case: all new)
    and the ON CONFLICT statement runs only when a pair exists. Unknown groups or nodes fail the foreign keys
    at COMMIT (see the module docstring).
    """
    listed = pairs if isinstance(pairs, list) else list(pairs)
    checked = _plain_pairs(listed)
    group_ids, node_ids = checked if checked is not None else _checked_pairs(listed)
    if not group_ids:
        return 0
    params = {"group_ids": group_ids, "node_ids": node_ids}
    with ctx.transaction() as conn:
        if len(group_ids) >= NEW_MEMBERS_FIRST:
            try:
                with db.savepoint(conn, "ingest/copy_rows"):
                    _copy_memberships(conn, group_ids, node_ids)
                    return len(group_ids)
            except IntegrityError as exc:  # a pair exists (or comes twice): skip them as aiida does
                if not isinstance(exc.__cause__, psycopg.errors.UniqueViolation):
                    raise
        return db.run(conn, "ingest/add_group_nodes", params)


def _copy_memberships(conn: db.Connection, group_ids: list[int], node_ids: list[int]) -> None:
    """All-new memberships by binary COPY, their ids from the column default: the server's cost of a raw COPY,
    where a plain ``INSERT ... SELECT unnest(...)`` cost 0.84-0.87x of it at 10^4-10^5 pairs (bench/notes/ingest.md)."""
    with db.copy(
        conn,
        "ingest/copy_rows",
        identifiers={"table": "db_dbgroup_dbnodes", "columns": column_list(["dbgroup_id", "dbnode_id"])},
        types=["int4", "int4"],
    ) as copy, gc_paused():
        write = copy.write_row
        for pair in zip(group_ids, node_ids, strict=True):
            write(pair)


def add_nodes_to_group(ctx: StorageContext, group_id: int, node_ids: Iterable[int]) -> int:
    """Add nodes to one group, skipping existing members; return how many were added."""
    return add_nodes_to_groups(ctx, ((group_id, node_id) for node_id in node_ids))
