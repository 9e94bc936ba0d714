"""``export_archive``: the selection, the rows and the objects of one consistent snapshot into one archive file."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import __version__, db
from .. import rules as rulesets
from ..context import PooledContext, StorageContext, context_of
from ..repository import Repository
from . import objects, writer
from .report import ExportError, ExportProgress, ExportReport
from .selection import Selection, select

# The aiida-core release whose archive writer this one reproduces (format main_0001); metadata.json carries
# it as aiida_version, as aiida's own writer does, and fastdos_version beside it says who wrote the file.
AIIDA_VERSION = "2.9.4"
# How often the main thread reports the progress of the object copy while it waits for it (seconds).
POLL_SECONDS = 0.2


def export_archive(
    storage: Any,
    path: str | Path,
    *,
    nodes: Iterable[object] | None = None,
    groups: Iterable[object] | None = None,
    computers: Iterable[object] | None = None,
    users: Iterable[object] | None = None,
    all: bool = False,  # aiida-core's and the command's name for "everything"
    include_comments: bool = True,
    include_logs: bool = True,
    include_authinfos: bool = False,
    overwrite: bool = False,
    compression: int = 6,
    dry_run: bool = False,
    progress: ExportProgress | None = None,
    **traversal_rules: bool,
) -> ExportReport:
    """Write an AiiDA archive (format ``main_0001``) of a selection of ``storage``, as aiida-core's ``create_archive``.

    :param storage: a :class:`fastdos.Backend` or a storage context (:func:`fastdos.context.context_of`).
    :param nodes: start nodes, by pk or uuid; expanded by aiida's EXPORT traversal rules.
    :param groups: groups (pk, uuid or label): the groups, their memberships, and their nodes as start nodes.
    :param computers: computers (pk, uuid or label) exported besides those of the nodes.
    :param users: users (pk or email) exported besides those the other entities refer to.
    :param all: everything in the storage (the other selections are then ignored, as aiida-core does).
    :param include_comments, include_logs: the comments / logs of the exported nodes (and comment authors).
    :param include_authinfos: the authinfos of the exported computers (off by default, as in aiida-core).
    :param overwrite: replace an existing file at ``path``; otherwise an existing file is an error.
    :param compression: zlib level 0-9 of the members (0 stores them).
    :param dry_run: compute and report the selection; write nothing.
    :param progress: see :class:`ExportProgress`.
    :param traversal_rules: the toggleable EXPORT rules (``input_calc_forward``, ``create_backward``,
        ``return_backward``, ``input_work_forward``, ``call_calc_backward``, ``call_work_backward``).
    :raises ExportError: an unknown node/group/computer/user (named), an empty selection, an existing
        destination, a missing or read-only folder, a full disk, a missing repository object (node and key
        named). No file is left at ``path`` or beside it.
    :raises ExportValidationError: an unsealed process node in the selection (aiida's rule).
    :raises ValidationError: an unknown rule name; ``ValueError`` for a rule that cannot be toggled.
    """
    started = time.perf_counter()
    if isinstance(compression, bool) or compression not in range(10):
        raise ExportError("compression must be an integer between 0 and 9")
    directions = rulesets.resolve(rulesets.EXPORT, traversal_rules)
    applied = {rule.name: traversal_rules.get(rule.name, rule.default) for rule in rulesets.EXPORT.rules}
    target = Path(path).expanduser().absolute()
    if not dry_run:
        writer.check_destination(target, overwrite)
    ctx = _context(storage)
    ctx.check_open()
    report = ExportReport(target, dry_run=dry_run, traversal_rules=applied)
    notify = progress or _no_progress
    repository = ctx.repository

    with ctx.connection() as conn, _snapshot(ctx, conn):
        notify("selection", 0, 1)
        stage = time.perf_counter()
        selection = select(
            conn,
            nodes=nodes,
            groups=groups,
            computers=computers,
            users=users,
            everything=all,
            include_comments=include_comments,
            include_logs=include_logs,
            include_authinfos=include_authinfos,
            directions=directions,
        )
        keys = objects.object_keys(conn, selection)
        objects.check_objects(conn, repository, selection, keys)
        report.counts.update(selection.counts)
        report.files = len(keys)
        report.seconds["selection"] = time.perf_counter() - stage
        notify("selection", 1, 1)
        if not dry_run:
            meta = writer.metadata(AIIDA_VERSION, compression, selection, applied, datetime.now().isoformat())
            meta["fastdos_version"] = __version__
            with writer.destination(target, overwrite) as (partial, work, commit):
                _write(conn, repository, selection, keys, (partial, work), meta, compression, report, notify)
                commit()
            report.size = target.stat().st_size
    report.total_seconds = time.perf_counter() - started
    return report


def _write(
    conn: db.Connection,
    repository: Repository,
    selection: Selection,
    keys: list[str],
    files: tuple[Path, Path],
    meta: dict[str, Any],
    compression: int,
    report: ExportReport,
    notify: ExportProgress,
) -> None:
    """Objects (a thread) and rows (this thread) into the temporary files, then the zip closed."""
    partial, work = files
    archive = writer.open_zip(partial, compression)
    copier = objects.ObjectCopy(repository, keys, archive, compression)
    database: writer.Database | None = None
    try:
        copier.start()
        stage = time.perf_counter()
        database = writer.Database(work)
        report.seconds.update(database.load(conn, selection, notify))
        report.seconds["database"] = time.perf_counter() - stage
        _wait(copier, notify)
        report.seconds["files"] = copier.seconds
        stage = time.perf_counter()
        notify("archive", 0, 1)
        database.finish()
        writer.close_zip(archive, work, meta, compression)
        notify("archive", 1, 1)
        report.seconds["archive"] = time.perf_counter() - stage
    except BaseException:
        copier.cancel()
        if copier.is_alive():
            copier.join()
        if database is not None:
            database.close()
        with contextlib.suppress(Exception):
            archive.close()
        raise


def _wait(copier: objects.ObjectCopy, notify: ExportProgress) -> None:
    """Wait for the object copy, reporting its progress from this thread (callbacks never interleave)."""
    total = len(copier.keys)
    notify("files", copier.done, total)
    while copier.is_alive():
        copier.join(POLL_SECONDS)
        notify("files", copier.done, total)
    if copier.error is not None:
        raise copier.error


def _context(storage: Any) -> StorageContext:
    """The storage context of ``storage``; a Backend without ``.context`` gets a pooled context over its pool."""
    ctx = context_of(storage)
    if hasattr(ctx, "owns_transactions"):
        return ctx
    # fastdos.Backend before the services conversion: its pool, repository and profile.
    return PooledContext(storage.profile, storage.database, storage.get_repository(), None)


@contextlib.contextmanager
def _snapshot(ctx: StorageContext, conn: db.Connection) -> Iterator[None]:
    """One REPEATABLE READ READ ONLY transaction for every read, when the transactions are ours to open.

    Inside a transaction that is already open (the caller's own, or a borrowed connection's) the reads see
    that transaction's view and nothing is changed about it.
    """
    if not ctx.owns_transactions or ctx.in_transaction:
        yield
        return
    with db.savepoint(conn, "export/snapshot"):
        db.run(conn, "export/snapshot")
        db.run(conn, "export/no_jit")
        yield


def _no_progress(stage: str, done: int, total: int) -> None:
    """The default progress callback: nothing."""
