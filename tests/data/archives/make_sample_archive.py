"""Build an AiiDA archive (format ``main_0001``) of a realistic provenance graph with aiida-core itself.

Runs in the aiida-core reference venv (``tests/aiida/setup_env.sh``)::

    .venv-aiida/bin/python tests/data/archives/make_sample_archive.py            # the committed sample.aiida
    .venv-aiida/bin/python tests/data/archives/make_sample_archive.py --nodes 10000 --files 1000 --out big.aiida
    .venv-aiida/bin/python tests/data/archives/make_sample_archive.py --bulk --nodes 100000 --files 10000 \
        --out /tmp/bench.aiida                                          # benchmark size: ~3.5 min, 21 MB

Measured (2 shared cores): the ORM path stores 8-14 nodes/s into sqlite_dos (every store, attribute change and
seal is a commit), i.e. 10^4 nodes in ~15 min and 10^5 in ~2-3 h; ``--bulk`` builds one unit with the ORM and
clones it with aiida's ``bulk_insert`` at ~1,280 nodes/s: 10^5 nodes + 10^4 files in 82 s, export 115 s.

The graph is written with aiida's ORM into a throwaway ``core.sqlite_dos`` profile (no server needed, a
temporary folder removed at the end) and exported with ``aiida.tools.archive.create_archive``. It is made of
repeated *units*, each a small workflow run with every link type aiida knows::

    inputs x:Int y:Float s:Str p:Dict l:List [f:SinglefileData]    (some created by a second user)
      --input_work--> W (WorkChainNode) --call_work--> SW (WorkChainNode) --call_calc--> C1 (CalcJobNode)
      x, p, [f] --input_calc--> C1 --create--> out:Int, retrieved:FolderData, remote:RemoteData, [arr:ArrayData]
      SW --return--> out ; W --call_calc--> C2 (CalcFunctionNode) ; out, y --input_calc--> C2 --create--> sum:Float
      W --return--> sum ; comment on W, log on C1; groups of inputs and of workflows

so 14-15 nodes per unit. ``--files`` is the number of repository objects (distinct contents) spread evenly over
the units (SinglefileData, ArrayData and the files of the FolderData); units past the budget carry a Str
instead of the SinglefileData, no ArrayData and an empty FolderData. All links are added with
``add_incoming`` before ``store()``, so aiida validates every one against its link rules.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SAMPLE = HERE / "sample.aiida"
SAMPLE_UNITS = 25  # 25 units -> a few hundred nodes, well under 1 MB
SAMPLE_FILES = 100


def load_throwaway_profile(folder: Path) -> Any:
    """Create and load an in-memory ``core.sqlite_dos`` profile stored under ``folder``, without a broker."""
    from aiida.manage import get_manager
    from aiida.manage.configuration.profile import Profile
    from aiida.storage.sqlite_dos.backend import SqliteDosStorage

    profile = Profile(
        "sample-archive",
        {
            "storage": {"backend": "core.sqlite_dos", "config": {"filepath": str(folder / "storage")}},
            "process_control": {"backend": None, "config": {}},
            "default_user_email": "alice@example.org",
            "options": {},
        },
    )
    SqliteDosStorage.initialise(profile)
    get_manager().load_profile(profile, allow_switch=True)
    return profile


def build_graph(units: int, files: int, *, progress: bool = False) -> dict[str, int]:
    """Store ``units`` workflow units with ``files`` repository objects in the loaded profile; return counts."""
    import numpy as np
    from aiida import orm
    from aiida.common.links import LinkType
    from aiida.engine import ProcessState

    alice = orm.User(email="alice@example.org", first_name="Alice", last_name="Sample", institution="fastdos")
    alice = alice.store()
    bob = orm.User(email="bob@example.org", first_name="Bob", last_name="Sample", institution="elsewhere").store()
    computer = orm.Computer(
        label="localhost-sample",
        hostname="localhost",
        description="computer of the sample archive",
        transport_type="core.local",
        scheduler_type="core.direct",
        workdir="/tmp/sample-work",
    ).store()

    inputs_group = orm.Group(label="sample/inputs", description="every workflow input").store()
    workflows_group = orm.Group(label="sample/workflows", description="top-level workflows", user=bob).store()
    files_left = files
    nodes = 0
    input_nodes: list[orm.Node] = []
    workflow_nodes: list[orm.Node] = []

    def finish(node: Any, exit_status: int = 0) -> None:
        node.set_process_state(ProcessState.FINISHED)
        node.set_exit_status(exit_status)

    started = time.monotonic()
    for unit in range(units):
        # Even spread of the repository objects still to place over the units still to build.
        budget = files_left // (units - unit) + (1 if files_left % (units - unit) else 0)
        files_left -= budget
        owner = bob if unit % 3 == 2 else alice

        x = orm.Int(unit, user=owner)
        y = orm.Float(unit / 7, user=owner)
        s = orm.Str(f"unit {unit}", user=owner)
        p = orm.Dict({"unit": unit, "cutoff": 30.0 + unit, "flags": [True, False], "nested": {"k": f"v{unit}"}})
        lst = orm.List([unit, unit + 1, f"s{unit}"])
        inputs: dict[str, orm.Data] = {"x": x, "y": y, "s": s, "p": p, "l": lst}
        if budget > 0:
            inputs["f"] = orm.SinglefileData.from_string(f"input file of unit {unit}\n" * 3, filename="input.txt")
            budget -= 1
        for node in inputs.values():
            node.store()
        input_nodes.extend(inputs.values())
        x.base.extras.set_many({"unit": unit, "role": "x"})

        w = orm.WorkChainNode(process_type="aiida.workflows:sample.outer", label=f"outer-{unit}")
        for label, node in inputs.items():
            w.base.links.add_incoming(node, LinkType.INPUT_WORK, label)
        w.set_process_state(ProcessState.RUNNING)
        w.store()

        sw = orm.WorkChainNode(process_type="aiida.workflows:sample.inner", label=f"inner-{unit}")
        sw.base.links.add_incoming(w, LinkType.CALL_WORK, "CALL")
        sw.base.links.add_incoming(x, LinkType.INPUT_WORK, "x")
        sw.store()

        c1 = orm.CalcJobNode(computer=computer, process_type="aiida.calculations:sample.job", label=f"job-{unit}")
        c1.set_option("resources", {"num_machines": 1, "num_mpiprocs_per_machine": 1})
        c1.set_option("max_wallclock_seconds", 600)
        c1.base.links.add_incoming(sw, LinkType.CALL_CALC, "CALL")
        c1.base.links.add_incoming(x, LinkType.INPUT_CALC, "x")
        c1.base.links.add_incoming(p, LinkType.INPUT_CALC, "parameters")
        if "f" in inputs:
            c1.base.links.add_incoming(inputs["f"], LinkType.INPUT_CALC, "file")
        c1.set_job_id(str(1000 + unit))
        c1.set_remote_workdir(f"/tmp/sample-work/{unit}")
        finish(c1)
        c1.store()

        out = orm.Int(unit * 2)
        out.base.links.add_incoming(c1, LinkType.CREATE, "out")
        out.store()
        remote = orm.RemoteData(computer=computer, remote_path=f"/tmp/sample-work/{unit}")
        remote.base.links.add_incoming(c1, LinkType.CREATE, "remote_folder")
        remote.store()
        created = [out, remote]
        if budget > 0:
            arr = orm.ArrayData()
            arr.set_array("values", np.arange(unit, unit + 8, dtype=np.float64))
            arr.base.links.add_incoming(c1, LinkType.CREATE, "array")
            arr.store()
            created.append(arr)
            budget -= 1
        retrieved = orm.FolderData()
        for index in range(budget):
            retrieved.base.repository.put_object_from_bytes(
                f"unit {unit} file {index}\n".encode(), f"out/file_{index:04d}.txt"
            )
        retrieved.base.links.add_incoming(c1, LinkType.CREATE, "retrieved")
        retrieved.store()
        created.append(retrieved)
        c1.seal()

        # RETURN links point at data that already exists (as aiida's engine adds them): target stored.
        out.base.links.add_incoming(sw, LinkType.RETURN, "result")
        finish(sw)
        sw.seal()

        c2 = orm.CalcFunctionNode(process_type="aiida.calculations:sample.add", label=f"add-{unit}")
        c2.base.links.add_incoming(w, LinkType.CALL_CALC, "CALL")
        c2.base.links.add_incoming(out, LinkType.INPUT_CALC, "a")
        c2.base.links.add_incoming(y, LinkType.INPUT_CALC, "b")
        finish(c2)
        c2.store()
        total = orm.Float(unit * 2 + unit / 7)
        total.base.links.add_incoming(c2, LinkType.CREATE, "result")
        total.store()
        c2.seal()
        total.base.links.add_incoming(w, LinkType.RETURN, "sum")
        finish(w)
        w.seal()
        workflow_nodes.append(w)

        orm.Comment(w, owner, f"comment on outer workflow {unit}").store()
        orm.Log(c1.ctime, "aiida.sample", "REPORT", c1.pk, f"job {unit} finished", {"unit": unit}).store()
        nodes += len(inputs) + 2 + 1 + len(created) + 2
        if progress and (unit + 1) % max(1, units // 20) == 0:
            rate = nodes / (time.monotonic() - started)
            print(f"  {unit + 1}/{units} units, {nodes} nodes, {rate:.0f} nodes/s", file=sys.stderr, flush=True)

    inputs_group.add_nodes(input_nodes)
    workflows_group.add_nodes(workflow_nodes)
    return {"units": units, "nodes": nodes, "files": files - files_left}


def clone_units(copies: int, files: int, *, progress: bool = False) -> dict[str, int]:
    """Replicate the one unit stored so far ``copies`` times with aiida's ``bulk_insert`` (new uuids and ids).

    aiida's ORM stores 12-14 nodes/s here (every node, attribute change and seal is its own commit), so 10^5
    nodes would take 2 h; ``StorageBackend.bulk_insert`` -- the call aiida's own archive import uses -- writes
    the same rows in batches. The template unit was built and link-validated by the ORM, so every clone obeys
    the link rules too. ``files`` new repository objects (distinct contents) go into the clones' FolderData
    and SinglefileData, spread evenly; clones past the budget share the template's objects.
    """
    import hashlib
    import uuid as uuidlib

    from aiida.common.timezone import now
    from aiida.manage import get_manager
    from aiida.orm.entities import EntityTypes
    from sqlalchemy import select

    storage = get_manager().get_profile_storage()
    session = storage.get_session()

    def rows(entity: EntityTypes) -> list[dict[str, Any]]:
        mapper, _ = storage._get_mapper_from_entity(entity, True)
        return [dict(r._mapping) for r in session.execute(select(mapper.local_table))]

    nodes = sorted(rows(EntityTypes.NODE), key=lambda r: r["id"])
    links = rows(EntityTypes.LINK)
    comments = rows(EntityTypes.COMMENT)
    logs = rows(EntityTypes.LOG)
    group_nodes = rows(EntityTypes.GROUP_NODE)
    container = storage.get_container()
    files_left = files
    stats = {"nodes": 0, "links": 0, "files": 0}
    started = time.monotonic()
    batch = 50  # clones per bulk_insert round: ~750 nodes, well inside SQLite's limits
    for first in range(0, copies, batch):
        count = min(batch, copies - first)
        node_rows: list[dict[str, Any]] = []
        contents: list[bytes] = []
        for clone in range(first, first + count):
            budget = files_left // (copies - clone) + (1 if files_left % (copies - clone) else 0)
            files_left -= budget
            stamp = now()
            for node in nodes:
                row = {k: v for k, v in node.items() if k != "id"}
                row.update(uuid=str(uuidlib.uuid4()), ctime=stamp, mtime=stamp)
                if row["node_type"] == "data.core.singlefile.SinglefileData." and budget > 0:
                    content = f"input file of clone {clone}\n".encode()
                    contents.append(content)
                    key = hashlib.sha256(content).hexdigest()
                    row["repository_metadata"] = {"o": {row["attributes"]["filename"]: {"k": key}}}
                    budget -= 1
                elif row["node_type"] == "data.core.folder.FolderData.":
                    tree: dict[str, Any] = {}
                    for index in range(budget):
                        content = f"clone {clone} file {index}\n".encode()
                        contents.append(content)
                        tree[f"file_{index:04d}.txt"] = {"k": hashlib.sha256(content).hexdigest()}
                    row["repository_metadata"] = {"o": {"out": {"o": tree}}} if tree else {}
                    budget = 0
                node_rows.append(row)
        new_ids = storage.bulk_insert(EntityTypes.NODE, node_rows)
        container.add_objects_to_pack(contents, compress=False)
        link_rows, comment_rows, log_rows, member_rows = [], [], [], []
        for offset in range(count):
            ids = {node["id"]: new_ids[offset * len(nodes) + i] for i, node in enumerate(nodes)}
            link_rows += [
                {**{k: v for k, v in r.items() if k != "id"}, "input_id": ids[r["input_id"]],
                 "output_id": ids[r["output_id"]]}
                for r in links
            ]  # fmt: skip
            stamp = now()
            comment_rows += [
                {**{k: v for k, v in r.items() if k != "id"}, "uuid": str(uuidlib.uuid4()),
                 "dbnode_id": ids[r["dbnode_id"]], "ctime": stamp, "mtime": stamp}
                for r in comments
            ]  # fmt: skip
            log_rows += [
                {**{k: v for k, v in r.items() if k not in ("id", "_metadata", "metadata")},
                 "metadata": r.get("_metadata", r.get("metadata")), "uuid": str(uuidlib.uuid4()),
                 "dbnode_id": ids[r["dbnode_id"]], "time": stamp}
                for r in logs
            ]  # fmt: skip
            member_rows += [{"dbgroup_id": r["dbgroup_id"], "dbnode_id": ids[r["dbnode_id"]]} for r in group_nodes]
        with storage.transaction():
            storage.bulk_insert(EntityTypes.LINK, link_rows)
            storage.bulk_insert(EntityTypes.COMMENT, comment_rows)
            storage.bulk_insert(EntityTypes.LOG, log_rows)
            storage.bulk_insert(EntityTypes.GROUP_NODE, member_rows)
        stats["nodes"] += len(node_rows)
        stats["links"] += len(link_rows)
        stats["files"] += len(contents)
        if progress:
            rate = stats["nodes"] / (time.monotonic() - started)
            print(f"  {first + count}/{copies} clones, {stats['nodes']} nodes, {rate:.0f} nodes/s", file=sys.stderr)
    return stats


def make_archive(
    out: Path, units: int, files: int, *, bulk: bool = False, progress: bool = False
) -> dict[str, Any]:
    """Build the graph in a throwaway profile and export everything to ``out``; return a summary.

    ``bulk``: build one unit with the ORM, then ``units - 1`` clones of it with :func:`clone_units`.
    """
    from aiida.manage import get_manager
    from aiida.tools.archive import create_archive

    workdir = Path(tempfile.mkdtemp(prefix="fastdos-sample-archive-"))
    try:
        os.environ["AIIDA_PATH"] = str(workdir)  # keeps aiida's logs and config out of ~/.aiida
        load_throwaway_profile(workdir)
        t0 = time.monotonic()
        if bulk:
            per_unit = min(files, 2)  # the template's SinglefileData + one file in its FolderData
            template = build_graph(1, per_unit)
            # as many clones as bring the total nearest to units * (nodes of one unit, 14 or 15)
            copies = max(0, round(units * 14.5 / template["nodes"]) - 1)
            cloned = clone_units(copies, files - per_unit, progress=progress)
            built = {
                "units": copies + 1,
                "nodes": template["nodes"] + cloned["nodes"],
                "files": per_unit + cloned["files"],
            }
        else:
            built = build_graph(units, files, progress=progress)
        t1 = time.monotonic()
        out.parent.mkdir(parents=True, exist_ok=True)
        create_archive(None, filename=out, overwrite=True)
        t2 = time.monotonic()
        get_manager().unload_profile()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summary = {**built, **describe_archive(out), "build_s": round(t1 - t0, 1), "export_s": round(t2 - t1, 1)}
    return summary


def describe_archive(path: Path) -> dict[str, Any]:
    """Version, entity counts and size of an archive, read straight from its zip (metadata.json, db.sqlite3)."""
    import sqlite3

    with zipfile.ZipFile(path) as archive:
        metadata = json.loads(archive.read("metadata.json"))
        repo_files = sum(1 for name in archive.namelist() if name.startswith("repo/") and not name.endswith("/"))
        with tempfile.TemporaryDirectory() as tmp:
            db_path = Path(archive.extract("db.sqlite3", tmp))
            con = sqlite3.connect(db_path)
            tables = ["db_dbuser", "db_dbcomputer", "db_dbnode", "db_dblink", "db_dbgroup", "db_dbgroup_dbnodes",
                      "db_dbcomment", "db_dblog"]  # fmt: skip
            counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
            con.close()
    return {
        "version": metadata["export_version"],
        "aiida_version": metadata.get("aiida_version"),
        "counts": counts,
        "repo_files": repo_files,
        "size_bytes": path.stat().st_size,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, help="approximate number of nodes (default: the committed sample)")
    parser.add_argument("--files", type=int, default=None, help="number of repository objects")
    parser.add_argument("--out", type=Path, default=SAMPLE)
    parser.add_argument(
        "--bulk",
        action="store_true",
        help="clone one ORM-built unit with aiida's bulk_insert (minutes instead of hours for 10^5 nodes)",
    )
    args = parser.parse_args(argv)
    if args.nodes is None:
        units, files = SAMPLE_UNITS, SAMPLE_FILES if args.files is None else args.files
    else:
        if args.nodes < 15:
            parser.error("--nodes must be at least 15 (one unit)")
        units, files = max(1, round(args.nodes / 14.5)), args.files or 0
    summary = make_archive(args.out, units, files, bulk=args.bulk, progress=args.nodes is not None)
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
