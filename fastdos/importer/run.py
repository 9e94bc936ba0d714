"""One import run: the storage context, the archive, the open transaction's connection, report and progress.

The stages (:mod:`.stages`, :mod:`.links`, :mod:`.groups`, :mod:`.objects`) are functions over an
:class:`ImportRun`; the helpers here are what several of them share: timing a stage, inserting entity rows,
finding archive rows the target has by uuid, free labels, and the load mode.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import db
from ..archive import ArchiveReader, ImportUniquenessError
from ..ingest import LoadMode, copy_batch
from ..rows import ENTITIES, EntityTypes, insert_rows
from . import staging
from .report import ImportProgress, ImportReport, StageReport
from .values import uuid_bytes, uuid_text

if TYPE_CHECKING:
    from ..context import StorageContext

# Archive rows per COPY batch. Same measurement as ingest's DEFAULT_BATCH_SIZE (bench/notes/ingest.md:
# 2 000-50 000 rows per COPY took the same time; memory grows with the batch), so 10 000.
BATCH = 10_000
# The tables whose indexes and foreign keys the load mode drops (the ones an archive fills in bulk).
LOAD_MODE_TABLES = (EntityTypes.NODE, EntityTypes.LINK, EntityTypes.GROUP_NODE, EntityTypes.LOG, EntityTypes.COMMENT)
# Working tables with fewer rows are not ANALYZEd: at 3,300 and 10^4 archive nodes the statements over them
# took the same time with and without statistics (the planner estimates from the table's size), while the
# ANALYZEs cost 25 / 53 ms (bench/notes/import.md); 10^5-node archives keep them (not measured without).
ANALYZE_MIN_ROWS = 50_000
DUPLICATE_LABEL_MAX = 100
DUPLICATE_LABEL_TEMPLATE = "{0} (Imported #{1})"


@dataclass
class ImportRun:
    """The state of one import; ``conn`` is the connection of the transaction the whole import runs in."""

    ctx: StorageContext
    reader: ArchiveReader
    report: ImportReport
    progress: ImportProgress
    conn: db.Connection = field(init=False)
    exclusive: bool = False  # the profile's exclusive lock is held: pack writes and the load mode allowed
    node_count: int = 0
    target_has_nodes: bool = True
    group_labels: set[str] = field(default_factory=set)  # labels this import gave to new groups
    loaders: list[LoadMode] = field(default_factory=list)

    @contextlib.contextmanager
    def stage(self, name: str, total: int) -> Iterator[StageReport]:
        """Report the stage ``name`` to the progress callback and time it."""
        stage = self.report.stage(name)
        self.progress(name, 0, total)
        started = time.perf_counter()
        yield stage
        stage.seconds = time.perf_counter() - started
        self.progress(name, total, total)

    def insert(
        self, entity_type: EntityTypes, rows: Sequence[Mapping[str, Any]], allow_defaults: bool = False
    ) -> list[int]:
        """Insert entity rows (``bulk_insert``'s key rules and checks) in the import's unit of work; ids in order.

        The same validation and COPY as ``ingest.bulk_insert``, on the import's connection: the import is one
        unit of work already, so no savepoint of its own.
        """
        if not rows:
            return []
        spec = ENTITIES[entity_type]
        return copy_batch(self.conn, spec, insert_rows(spec, rows, allow_defaults))

    def insert_prepared(self, entity_type: EntityTypes, prepared: Sequence[tuple[Any, ...]]) -> list[int]:
        """Insert rows already converted to COPY values (table column order, no id); ids in order."""
        return copy_batch(self.conn, ENTITIES[entity_type], prepared) if prepared else []

    def analyze(self, table: staging.Staging, rows: int) -> None:
        """Statistics for a filled working table (autovacuum never analyzes temporary tables), when it is large
        enough for them to matter; without them the planner estimates from the table's size."""
        if rows >= ANALYZE_MIN_ROWS:
            db.run(self.conn, "importer/analyze", identifiers={"table": table.name})

    def existing(self, table: str, batch: Sequence[Any], what: str) -> dict[int, int]:
        """Position in ``batch`` (0-based) → id of the rows of ``table`` whose uuid the archive rows have."""
        uuids = [uuid_text(uuid_bytes(r.uuid, f"archive {what} {r.id}")) for r in batch]
        rows = db.all_rows(self.conn, "importer/existing_by_uuid", {"uuids": uuids}, identifiers={"table": table})
        return {int(pos) - 1: int(pk) for pos, pk in rows}

    def free_label(self, table: str, label: str, taken_here: set[str], what: str) -> str:
        """``label`` or the first free ``"<label> (Imported #i)"`` (aiida's renaming on clashes)."""
        candidates = [label] + [DUPLICATE_LABEL_TEMPLATE.format(label, i) for i in range(DUPLICATE_LABEL_MAX)]
        taken = {str(r[0]) for r in db.all_rows(self.conn, "importer/labels_taken", {"labels": candidates},
                                                identifiers={"table": table})} | taken_here  # fmt: skip
        for candidate in candidates:
            if candidate not in taken:
                return candidate
        raise ImportUniquenessError(f"{what} has the existing label {label!r} and re-labelling failed")

    def working_tables(self, merge_extras: bool) -> list[staging.Staging]:
        """The working tables this archive needs: the node map always, the others for the archive tables that
        have rows (and the extras of existing nodes when they are merged)."""
        tables = [staging.NODES]
        if merge_extras and self.target_has_nodes:
            tables.append(staging.EXTRAS)
        for archive_table, feeds in staging.FEEDS.items():
            if self.reader.count(archive_table):
                tables.extend(feeds)
        return tables

    # --- load mode -------------------------------------------------------------------------------------------

    def start_load_mode(self, min_rows: int, min_nodes_indexes: int, *, import_group: bool) -> None:
        """Under the exclusive lock only, and only when the archive has more nodes than the target: drop the
        foreign keys of each big table the archive brings at least ``min_rows`` rows to, and from
        ``min_nodes_indexes`` archive nodes the foreign keys and plain indexes of all of them (the load mode
        locks the tables for the whole import).

        Every foreign-key check of the import would otherwise run row by row at COMMIT (the schema's keys are
        DEFERRABLE INITIALLY DEFERRED, docs/schema.md#foreign-keys), ~5-10 us a row and key; re-adding a key
        validates all rows in one join whose cost is bounded by the target being smaller than the archive, and
        building an index once beats maintaining it per row from 10^4 nodes. At 10^5 nodes this halved the
        import; at 10^3 the keys alone cost 3-4x less dropped and re-added (bench/notes/import.md). A failure
        rolls the DDL back with the rows.
        """
        nodes = self.reader.count("db_dbnode")
        present = int(
            db.scalar(self.conn, "importer/rows_up_to", {"limit": max(nodes, 1)}, identifiers={"table": "db_dbnode"})
        )
        # An empty node table needs no uuid lookups (the archive's uuids are unique).
        self.target_has_nodes = present > 0
        if not self.exclusive or present >= nodes:
            return
        indexes = nodes >= min_nodes_indexes
        rows = {entity_type: self.reader.count(ENTITIES[entity_type].table) for entity_type in LOAD_MODE_TABLES}
        if import_group:
            rows[EntityTypes.GROUP_NODE] += nodes
        tables = [ENTITIES[t] for t in LOAD_MODE_TABLES if indexes or rows[t] >= min_rows]
        if not tables:
            return
        self.loaders = LoadMode.of_tables(self.conn, tables, indexes=indexes)
        LoadMode.drop_all(self.conn, self.loaders)
        self.report.load_mode = "indexes and foreign keys" if indexes else "foreign keys"

    def end_load_mode(self) -> None:
        """Re-create what :meth:`start_load_mode` dropped (validating every foreign key)."""
        if self.loaders:
            with self.stage("constraints", len(self.loaders)):
                LoadMode.restore_all(self.conn, self.loaders)
                self.loaders = []
