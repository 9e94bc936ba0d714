"""AiiDA archive import at COPY speed: ``import_archive(storage, path, ...)``.

The semantics are aiida-core's ``aiida.tools.archive.imports.import_archive``, in its order: users (matched
by email), computers (by uuid; label clashes renamed ``"<label> (Imported #<i>)"``), authinfos (optional),
nodes (by uuid; existing nodes keep their row, extras merged by ``merge_extras``), logs, comments, links
(validated by type, endpoint kind and per-type uniqueness, deduplicated against the target), groups (by uuid,
clashes renamed; memberships of new groups), the ``core.import`` group, then the repository objects the
target lacks. Everything in the database is ONE unit of work of the storage context (a transaction, or a
savepoint in a caller's): an error anywhere (including an exception raised by the ``progress`` callback)
leaves the database as it was; objects already written to the container stay unreferenced until
``maintain`` reclaims them. The format and the semantics: docs/archive-format.md#import-semantics.

How it is fast:

* the archive's SQLite rows are streamed in batches of :data:`BATCH` (never whole tables) and written with
  binary COPY; JSON text goes to ``jsonb`` as it is (no parse/serialise round trip) unless a node needs its
  ``_aiida_*`` extras or its ``checkpoints`` attribute removed;
* the archive-id → new-id maps of nodes and groups live in PostgreSQL temporary tables filled by COPY, so
  logs, comments, links and memberships are remapped, validated and inserted by a few set-wise statements
  (``sql/importer/``), whatever the archive size; only users and computers (few) are mapped in Python;
* repository objects go straight into pack files when the profile's exclusive lock can be taken.

Differences from aiida-core, on purpose: links of a type aiida does not know, and archive rows referring to
users, computers or nodes missing from the archive, are errors (aiida skips unknown link types silently);
``merge_comments='newest'`` is one UPDATE with the end state of aiida's ORM path (content from the archive,
``mtime`` now).

The package, top to bottom: this module runs the stages in order inside one unit of work; :mod:`.run` holds
an import's state and shared helpers; :mod:`.stages` (users, computers, authinfos, nodes, logs, comments),
:mod:`.links`, :mod:`.groups` and :mod:`.objects` are the stages; :mod:`.staging` describes the working
tables (from :mod:`fastdos.catalog`); :mod:`.values` converts archive values; :mod:`fastdos.archive` reads
the archive.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from ..archive import ArchiveReader
from ..context import HasContext, StorageContext, context_of
from ..errors import LockingProfileError
from ..rows import gc_paused
from . import groups, links, objects, stages, staging
from .groups import IMPORT_GROUP_DESCRIPTION, IMPORT_GROUP_TYPE, NAMED_GROUP_TYPE
from .links import CALC, DATA, LINK_RULES, WORK
from .objects import OBJECT_BATCH
from .report import STAGES, ImportProgress, ImportReport, StageReport, no_progress
from .run import BATCH, DUPLICATE_LABEL_MAX, DUPLICATE_LABEL_TEMPLATE, LOAD_MODE_TABLES, ImportRun
from .stages import MergeComments, MergeExtras

__all__ = [
    "BATCH",
    "CALC",
    "DATA",
    "DUPLICATE_LABEL_MAX",
    "DUPLICATE_LABEL_TEMPLATE",
    "FOREIGN_KEY_MODE_MIN_ROWS",
    "IMPORT_GROUP_DESCRIPTION",
    "IMPORT_GROUP_TYPE",
    "LINK_RULES",
    "LOAD_MODE_MIN_NODES",
    "LOAD_MODE_TABLES",
    "NAMED_GROUP_TYPE",
    "OBJECT_BATCH",
    "STAGES",
    "WORK",
    "ImportProgress",
    "ImportReport",
    "MergeComments",
    "MergeExtras",
    "StageReport",
    "import_archive",
]

LOGGER = logging.getLogger("fastdos.importer")

# Load mode (see ImportRun.start_load_mode) only when the archive has more nodes than the target: a table's
# foreign keys dropped and re-validated when the archive brings it FOREIGN_KEY_MODE_MIN_ROWS rows or more
# (a key's row-wise checks cost ~5-10 us a row, dropping and re-adding it ~1-1.5 ms), every table's plain
# indexes and keys from LOAD_MODE_MIN_NODES archive nodes; below each, the row-wise work costs less than the
# DDL (bench/notes/import.md). Read at every import from this module (tests lower them with monkeypatch).
FOREIGN_KEY_MODE_MIN_ROWS = 500
LOAD_MODE_MIN_NODES = 5_000
KEEP_EXTRAS = ("k", "n", "l")  # aiida's default merge_extras: existing nodes' extras are left as they are


class _DryRun(Exception):
    """Raised inside the unit of work to roll a dry run back."""


def import_archive(
    storage: StorageContext | HasContext,
    path: str | Path,
    *,
    merge_extras: MergeExtras = ("k", "n", "l"),
    merge_comments: MergeComments = "leave",
    import_group: bool = True,
    group_label: str | None = None,
    include_authinfos: bool = False,
    dry_run: bool = False,
    progress: ImportProgress | None = None,
    tmpdir: str | Path | None = None,
) -> ImportReport:
    """Import the AiiDA archive ``path`` (format ``main_0001``) into ``storage`` (a Backend or a context).

    :param merge_extras: aiida's three letters for nodes that exist already: keys only in the target kept
        (``k``) or dropped (``n``); keys only in the archive created (``c``) or not (``n``); keys in both
        left (``l``), updated from the archive (``u``) or deleted (``d``). Every combination is supported;
        the default ``('k', 'n', 'l')`` writes nothing to existing nodes.
    :param merge_comments: existing comments are left (``leave``), overwritten from the archive
        (``overwrite``) or updated when the archive's is newer (``newest``).
    :param import_group: put every node of the archive into a new ``core.import`` group labelled with the
        local time ``%Y%m%d-%H%M%S`` (renamed on a clash), as ``verdi archive import`` does.
    :param group_label: put the nodes into the group with this label instead (created as a ``core`` group
        when none exists; ``ValidationError`` if several groups have that label).
    :param include_authinfos: import the archive's authinfos (matched by user and computer).
    :param dry_run: do all the work and the checks, report, then roll back; no object is written.
    :param progress: see :class:`ImportProgress`.
    :param tmpdir: where the archive's SQLite database is copied out (default: the system temp folder).
    :raises ArchiveError: the file is not a readable archive (names the problem).
    :raises IncompatibleArchiveVersion: another archive version (says how to convert it).
    :raises ImportValidationError: the content breaks an import rule (names the rows).
    """
    _check_options(merge_extras, merge_comments)
    ctx = context_of(storage)
    ctx.check_open()
    started = time.perf_counter()
    report = ImportReport(archive=Path(path).name, dry_run=dry_run)
    with ArchiveReader(path, tmpdir=tmpdir) as reader, contextlib.ExitStack() as locks:
        run = ImportRun(ctx, reader, report, progress or no_progress)
        run.exclusive = not dry_run and _try_exclusive(ctx, locks)
        try:
            copier = locks.enter_context(objects.beside(run, write=not dry_run))
            # Archive rows are named tuples, which the cyclic GC never untracks (it does untrack plain tuples
            # of atoms), so every collection walks the batch in hand. Paused, a 10^4-node import took 0.25 s
            # of Python time instead of 0.31-0.34 s (process_time, min of 4; same peak RSS, 90 MB). The
            # import makes no reference cycles of its own.
            fresh = not ctx.in_transaction  # the import's own transaction: no working table can exist yet
            with ctx.transaction() as conn, gc_paused():
                run.conn = conn
                run.start_load_mode(
                    FOREIGN_KEY_MODE_MIN_ROWS, LOAD_MODE_MIN_NODES, import_group=import_group or group_label is not None
                )
                staging.create(conn, run.working_tables(tuple(merge_extras) != KEEP_EXTRAS), fresh=fresh)
                user_ids = stages.users(run)
                computer_ids = stages.computers(run)
                if include_authinfos:
                    stages.authinfos(run, user_ids, computer_ids)
                stages.nodes(run, user_ids, computer_ids, merge_extras)
                stages.logs(run)
                stages.comments(run, user_ids, merge_comments)
                links.links(run)
                groups.groups(run, user_ids)
                if import_group or group_label is not None:
                    groups.import_group(run, group_label, user_ids)
                run.end_load_mode()
                objects.repository(run, copier)
                if not fresh:  # else the COMMIT drops them (ON COMMIT DROP)
                    staging.drop(conn)
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
    report.seconds = time.perf_counter() - started
    for line in report.lines():
        LOGGER.info("%s", line)
    return report


def _try_exclusive(ctx: StorageContext, locks: contextlib.ExitStack) -> bool:
    """Take the profile's exclusive lock for the import; False when another process (or backend) uses it.

    With it, objects go straight into packs (one pack writer at a time is disk-objectstore's rule) and a
    large import may use the load mode; without it, objects are written loose and rows row-checked.
    """
    access = ctx.access
    if access is None:
        return False
    try:
        locks.enter_context(access.exclusive())
    except LockingProfileError as exc:
        LOGGER.info("profile in use, importing without the exclusive lock: %s", exc)
        return False
    return True


def _check_options(merge_extras: Any, merge_comments: Any) -> None:
    if (
        not isinstance(merge_extras, (tuple, list))
        or len(merge_extras) != 3
        or merge_extras[0] not in ("k", "n")
        or merge_extras[1] not in ("c", "n")
        or merge_extras[2] not in ("l", "u", "d")
    ):
        raise ValueError(f"merge_extras must be three letters (k|n, c|n, l|u|d) as in aiida, got {merge_extras!r}")
    if merge_comments not in ("leave", "overwrite", "newest"):
        raise ValueError(f"merge_comments must be 'leave', 'overwrite' or 'newest', got {merge_comments!r}")
