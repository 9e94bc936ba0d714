"""The entity stages of an import: users, computers, authinfos, nodes, logs and comments.

Users (matched by email) and computers (by uuid; label clashes renamed) are few and mapped in Python. Nodes
are matched by uuid; new ones are COPY'd straight into ``db_dbnode`` and every archive node's archive id →
target id goes into the working table ``fastdos_import_nodes``, through which logs and comments are remapped
set-wise in SQL (``sql/importer/``).
"""

from __future__ import annotations

from typing import Any, Literal

from .. import db
from ..archive import ImportValidationError
from ..clock import now as local_now
from ..rows import EntityTypes
from . import staging
from .run import BATCH, ImportRun
from .values import jsonb, node_attributes, node_extras, parse_json, timestamp, uuid_bytes, uuid_text

MergeExtras = tuple[str, str, str]
MergeComments = Literal["leave", "overwrite", "newest"]


def users(run: ImportRun) -> dict[int, int]:
    """Archive user id → target user id; users matched by email, new ones inserted."""
    mapping: dict[int, int] = {}
    total = run.reader.count("db_dbuser")
    with run.stage("users", total) as stage:
        for batch in run.reader.batches("users"):
            found = dict(db.all_rows(run.conn, "importer/users_by_email", {"emails": [r.email for r in batch]}))
            new = [r for r in batch if r.email not in found]
            ids = run.insert(
                EntityTypes.USER,
                [{"email": r.email, "first_name": r.first_name, "last_name": r.last_name,
                  "institution": r.institution} for r in new],
            )  # fmt: skip
            found.update({r.email: pk for r, pk in zip(new, ids, strict=True)})
            mapping.update({int(r.id): int(found[r.email]) for r in batch})
            stage.new += len(new)
            stage.existing += len(batch) - len(new)
            run.progress("users", stage.total, total)
    return mapping


def computers(run: ImportRun) -> dict[int, int]:
    """Archive computer id → target id; matched by uuid, new ones inserted, label clashes renamed."""
    mapping: dict[int, int] = {}
    labels: set[str] = set()
    total = run.reader.count("db_dbcomputer")
    with run.stage("computers", total) as stage:
        renamed = 0
        for batch in run.reader.batches("computers"):
            found = run.existing("db_dbcomputer", batch, "computer")
            rows, new = [], []
            for pos, r in enumerate(batch):
                if pos in found:
                    mapping[int(r.id)] = found[pos]
                    continue
                label = run.free_label("db_dbcomputer", r.label, labels, f"Archive Computer {r.id}")
                renamed += label != r.label
                labels.add(label)
                new.append(r)
                rows.append({
                    "uuid": uuid_text(uuid_bytes(r.uuid, f"archive computer {r.id}")), "label": label,
                    "hostname": r.hostname, "description": r.description, "scheduler_type": r.scheduler_type,
                    "transport_type": r.transport_type,
                    "metadata": parse_json(r.metadata, f"archive computer {r.id} metadata"),
                })  # fmt: skip
            ids = run.insert(EntityTypes.COMPUTER, rows)
            mapping.update({int(r.id): pk for r, pk in zip(new, ids, strict=True)})
            stage.new += len(new)
            stage.existing += len(found)
            run.progress("computers", stage.total, total)
        if renamed:
            stage.extra = f"{renamed} relabelled"
    return mapping


def authinfos(run: ImportRun, user_ids: dict[int, int], computer_ids: dict[int, int]) -> None:
    """Import the archive's authinfos, matched by (user, computer)."""
    total = run.reader.count("db_dbauthinfo")
    with run.stage("authinfos", total) as stage:
        for batch in run.reader.batches("authinfos"):
            pairs = []
            for r in batch:
                if r.aiidauser_id not in user_ids or r.dbcomputer_id not in computer_ids:
                    raise ImportValidationError(
                        f"Archive AuthInfo {r.id} refers to user {r.aiidauser_id} / computer {r.dbcomputer_id},"
                        " not in the archive"
                    )
                pairs.append((user_ids[r.aiidauser_id], computer_ids[r.dbcomputer_id]))
            existing = {
                (int(u), int(c))
                for u, c in db.all_rows(run.conn, "importer/authinfos_existing",
                                        {"user_ids": [p[0] for p in pairs], "computer_ids": [p[1] for p in pairs]})
            }  # fmt: skip
            rows = [
                {"aiidauser_id": u, "dbcomputer_id": c, "metadata": parse_json(r.metadata, f"archive authinfo {r.id}"),
                 "auth_params": parse_json(r.auth_params, f"archive authinfo {r.id}"), "enabled": bool(r.enabled)}
                for r, (u, c) in zip(batch, pairs, strict=True) if (u, c) not in existing
            ]  # fmt: skip
            run.insert(EntityTypes.AUTHINFO, rows)
            stage.new += len(rows)
            stage.existing += len(batch) - len(rows)
            run.progress("authinfos", stage.total, total)


def nodes(run: ImportRun, user_ids: dict[int, int], computer_ids: dict[int, int], merge_extras: MergeExtras) -> None:
    """New nodes COPY'd into db_dbnode; every archive node's (archive id → id) into the node map."""
    total = run.reader.count("db_dbnode")
    run.node_count = total
    merge = tuple(merge_extras) != ("k", "n", "l")
    with run.stage("nodes", total) as stage:
        for batch in run.reader.batches("nodes", BATCH):
            found = run.existing("db_dbnode", batch, "node") if run.target_has_nodes else {}
            prepared: list[tuple[Any, ...]] = []
            new_rows: list[Any] = []
            map_rows: list[tuple[Any, ...]] = []
            extras_rows: list[tuple[Any, ...]] = []
            for pos, r in enumerate(batch):
                pk = found.get(pos)
                if pk is not None:
                    map_rows.append((r.id, pk, uuid_bytes(r.uuid, f"archive node {r.id}"), r.node_type, False))
                    if merge:
                        extras_rows.append((pk, jsonb(r.extras)))
                    continue
                prepared.append(node_row(r, user_ids, computer_ids))
                new_rows.append(r)
            ids = run.insert_prepared(EntityTypes.NODE, prepared)
            map_rows += [(r.id, pk, p[0], r.node_type, True) for r, p, pk in zip(new_rows, prepared, ids, strict=True)]
            staging.copy(run.conn, staging.NODES, map_rows)
            if extras_rows:
                staging.copy(run.conn, staging.EXTRAS, extras_rows)
            stage.new += len(ids)
            stage.existing += len(found)
            run.progress("nodes", stage.total, total)
        run.analyze(staging.NODES, total)
        if merge and stage.existing:
            keep_old, create_new, collision = merge_extras
            updated = db.run(run.conn, "importer/merge_extras", {
                "keep_old": keep_old == "k", "create_new": create_new == "c", "collision": collision,
                "now": local_now(),
            })  # fmt: skip
            stage.extra = f"extras merged into {updated} existing nodes ({''.join(merge_extras)})"


def node_row(r: Any, user_ids: dict[int, int], computer_ids: dict[int, int]) -> tuple[Any, ...]:
    """One archive node as a db_dbnode COPY tuple (table column order, no id), cleaned as aiida does."""
    what = f"archive node {r.uuid} (archive id {r.id})"
    user = user_ids.get(r.user_id)
    if user is None:
        raise ImportValidationError(f"{what} refers to user id {r.user_id}, which is not in the archive")
    computer = None
    if r.dbcomputer_id is not None:
        computer = computer_ids.get(r.dbcomputer_id)
        if computer is None:
            raise ImportValidationError(f"{what} refers to computer id {r.dbcomputer_id}, which is not in the archive")
    return (
        uuid_bytes(r.uuid, what), r.node_type, r.process_type, r.label, r.description, timestamp(r.ctime, what),
        timestamp(r.mtime, what), node_attributes(r.attributes, r.node_type, what),
        node_extras(r.extras, r.node_type, what), jsonb(r.repository_metadata), computer, user,
    )  # fmt: skip


def logs(run: ImportRun) -> None:
    """Stage the archive logs, then insert those the target lacks (node ids remapped in SQL)."""
    total = run.reader.count("db_dblog")
    if not total:
        return
    with run.stage("logs", total) as stage:
        done = 0
        for batch in run.reader.batches("logs", BATCH):
            rows = [
                (r.id, uuid_bytes(r.uuid, f"archive log {r.id}"), timestamp(r.time, f"archive log {r.id}"),
                 r.loggername, r.levelname, r.dbnode_id, r.message, jsonb(r.metadata))
                for r in batch
            ]  # fmt: skip
            staging.copy(run.conn, staging.LOGS, rows)
            done += len(batch)
            run.progress("logs", done, total)
        _check_staged(run, staging.LOGS, "db_dblog", "Log")
        stage.new = db.run(run.conn, "importer/insert_logs")
        stage.existing = total - stage.new


def comments(run: ImportRun, user_ids: dict[int, int], merge_comments: MergeComments) -> None:
    """Stage the archive comments (users mapped), insert the new ones, merge existing ones as asked."""
    total = run.reader.count("db_dbcomment")
    if not total:
        return
    with run.stage("comments", total) as stage:
        done = 0
        for batch in run.reader.batches("comments", BATCH):
            rows = []
            for r in batch:
                what = f"archive comment {r.id}"
                user = user_ids.get(r.user_id)
                if user is None:
                    raise ImportValidationError(f"{what} refers to user id {r.user_id}, which is not in the archive")
                rows.append((r.id, uuid_bytes(r.uuid, what), r.dbnode_id, timestamp(r.ctime, what),
                             timestamp(r.mtime, what), user, r.content))  # fmt: skip
            staging.copy(run.conn, staging.COMMENTS, rows)
            done += len(batch)
            run.progress("comments", done, total)
        _check_staged(run, staging.COMMENTS, "db_dbcomment", "Comment")
        ident = {"staging": staging.COMMENTS.name, "table": "db_dbcomment"}
        stage.existing = int(db.scalar(run.conn, "importer/count_existing", identifiers=ident))
        if stage.existing and merge_comments == "overwrite":
            stage.extra = f"{db.run(run.conn, 'importer/overwrite_comments')} overwritten"
        elif stage.existing and merge_comments == "newest":
            stage.extra = f"{db.run(run.conn, 'importer/newest_comments', {'now': local_now()})} updated"
        stage.new = db.run(run.conn, "importer/insert_comments")


def _check_staged(run: ImportRun, table: staging.Staging, target: str, what: str) -> None:
    """Staged rows the target lacks whose node is not in the archive are an error (first few named)."""
    identifiers = {"staging": table.name, "table": target}
    bad = db.all_rows(run.conn, "importer/staged_unknown_nodes", identifiers=identifiers)
    if bad:
        listed = ", ".join(f"{what} {pk} -> node {node}" for pk, node in bad)
        raise ImportValidationError(f"Archive {what}s refer to nodes that are not in the archive: {listed}")
