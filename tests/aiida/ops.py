"""aiida-core side of the interop tests: runs in ``.venv-aiida`` (aiida-core 2.9.4), never in fastdos' venv.

Usage: ``.venv-aiida/bin/python tests/aiida/ops.py '<json>'`` (or ``-`` and the JSON on stdin, which keeps a
database password off the command line) with the JSON object::

    {"op": "<operation>", "storage": {<core.psql_dos storage config>}, "name": "<profile name>", ...}

The result is printed as one JSON object on the last line of stdout, prefixed by ``RESULT:``. An aiida
exception (``aiida.common.exceptions.AiidaException``) is reported as ``{"error": {"type", "message"}}``
with exit status 3, so tests can assert that aiida rejects a storage; any other failure exits 1 with the
traceback on stderr. The aiida ``Profile`` is built in memory (nothing is
written to an AiiDA ``config.json`` but the logging folders aiida creates under ``AIIDA_PATH``, which the
caller points at a temporary folder) with no process control: storage operations need no RabbitMQ.

Operations:
  version_profile  ``PsqlDosBackend.version_profile`` -> {"version"}
  initialise       ``PsqlDosBackend.initialise`` on the (empty) database -> {"created", "version"}
  open             ``PsqlDosBackend(profile)`` (validates) + ``get_info`` + entity counts -> {"info", "counts"}
  populate         stores a small graph with aiida's ORM -> {"uuids", "file_key", "file_content", "info", ...}
  clear            ``PsqlDosBackend._clear()`` -> {"counts"} afterwards
  setting          ``get_global_variable(key)``, after ``set_global_variable(key, value)`` when "value" is given
  import_archive   aiida's ``import_archive(path)`` into the storage (the reference for fastdos' importer)
                   -> {"counts", "import_group", "seconds"}
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

# aiida emits the full result of get_info; values like datetimes must still serialise.
_JSON_DEFAULT = str

DEFAULT_EMAIL = "aiida-interop@example.org"


def make_profile(args: dict[str, Any]) -> Any:
    """An in-memory aiida ``Profile`` on a ``core.psql_dos`` storage, without process control."""
    from aiida.manage.configuration.profile import Profile

    return Profile(
        args.get("name", "interop"),
        {
            "storage": {"backend": "core.psql_dos", "config": dict(args["storage"])},
            "process_control": {"backend": None, "config": {}},
            "default_user_email": args.get("default_user_email", DEFAULT_EMAIL),
            "options": {},
        },
    )


def counts(storage: Any) -> dict[str, int]:
    """Row counts of every entity as aiida's ORM sees them."""
    from aiida import orm

    qb = orm.QueryBuilder
    result = {}
    for name, cls in [
        ("users", orm.User),
        ("computers", orm.Computer),
        ("nodes", orm.Node),
        ("groups", orm.Group),
        ("comments", orm.Comment),
        ("logs", orm.Log),
        ("authinfos", orm.AuthInfo),
    ]:
        result[name] = qb(backend=storage).append(cls).count()
    result["links"] = qb(backend=storage).append(orm.Node, tag="n").append(orm.Node, with_incoming="n").count()
    return result


def op_version_profile(args: dict[str, Any]) -> dict[str, Any]:
    from aiida.storage.psql_dos import PsqlDosBackend

    return {"version": PsqlDosBackend.version_profile(make_profile(args))}


def op_initialise(args: dict[str, Any]) -> dict[str, Any]:
    from aiida.storage.psql_dos import PsqlDosBackend

    profile = make_profile(args)
    created = PsqlDosBackend.initialise(profile)
    return {"created": created, "version": PsqlDosBackend.version_profile(profile)}


def op_open(args: dict[str, Any]) -> dict[str, Any]:
    from aiida.storage.psql_dos import PsqlDosBackend

    storage = PsqlDosBackend(make_profile(args))
    try:
        return {"info": storage.get_info(detailed=True), "counts": counts(storage), "str": str(storage)}
    finally:
        storage.close()


def op_clear(args: dict[str, Any]) -> dict[str, Any]:
    from aiida.storage.psql_dos import PsqlDosBackend

    storage = PsqlDosBackend(make_profile(args))
    try:
        storage._clear()
        return {"counts": counts(storage), "repository_uuid": storage.get_global_variable("repository|uuid")}
    finally:
        storage.close()


def op_populate(args: dict[str, Any]) -> dict[str, Any]:
    """Store Int, Dict, FolderData (with a file), a CalcJobNode with links, a group, a comment and a log.

    The profile is loaded globally (aiida's ORM resolves the storage through the manager), and unloaded at
    the end so the storage is closed before the process exits.
    """
    from aiida import orm
    from aiida.common.links import LinkType
    from aiida.manage import get_manager
    from aiida.storage.psql_dos import PsqlDosBackend

    profile = make_profile(args)
    # Validate explicitly first: the same call as `PsqlDosBackend(profile)`, reported separately on failure.
    PsqlDosBackend(profile).close()
    manager = get_manager()
    manager.load_profile(profile, allow_switch=True)
    try:
        storage = manager.get_profile_storage()
        email = profile.default_user_email
        user = orm.User(email=email, first_name="Ada", last_name="Interop", institution="fastdos").store()
        assert orm.User.collection.get_default().pk == user.pk

        computer = orm.Computer(
            label="interop-localhost",
            hostname="localhost",
            transport_type="core.local",
            scheduler_type="core.direct",
            workdir="/tmp/interop",
        ).store()

        number = orm.Int(42).store()
        params = orm.Dict({"a": 1, "nested": {"b": [1, 2.5, "x"]}, "flag": True}).store()
        folder = orm.FolderData()
        file_content = b"interop file contents\n"
        folder.base.repository.put_object_from_bytes(file_content, "sub/file.txt")

        calc = orm.CalcJobNode(computer=computer, process_type="aiida.calculations:core.arithmetic.add")
        calc.set_option("resources", {"num_machines": 1})
        calc.base.attributes.set("custom", {"k": "v"})
        calc.base.extras.set("tag", "interop")
        calc.base.links.add_incoming(number, LinkType.INPUT_CALC, "x")
        calc.base.links.add_incoming(params, LinkType.INPUT_CALC, "parameters")
        calc.store()
        result = orm.Int(43)
        result.base.links.add_incoming(calc, LinkType.CREATE, "sum")
        result.store()
        folder.base.links.add_incoming(calc, LinkType.CREATE, "retrieved")
        folder.store()

        group = orm.Group(label="interop-group", description="made by aiida-core").store()
        group.add_nodes([number, params, calc, result])
        comment = orm.Comment(calc, user, "a comment from aiida").store()
        log = orm.Log(
            datetime.now(UTC), "aiida.interop", "REPORT", calc.pk, "a log from aiida", {"extra": 1}
        ).store()

        key = folder.base.repository.metadata["o"]["sub"]["o"]["file.txt"]["k"]
        info = storage.get_info(detailed=True)
        return {
            "uuids": {
                "int": number.uuid,
                "dict": params.uuid,
                "folder": folder.uuid,
                "calc": calc.uuid,
                "result": result.uuid,
                "group": group.uuid,
                "comment": comment.uuid,
                "log": log.uuid,
                "computer": computer.uuid,
            },
            "pks": {"calc": calc.pk, "group": group.pk, "user": user.pk},
            "email": email,
            "dict_value": params.get_dict(),
            "calc_attributes": calc.base.attributes.all,
            "file_key": key,
            "file_content": file_content.decode(),
            "repository_uuid": storage.get_global_variable("repository|uuid"),
            "info": info,
            "counts": counts(storage),
        }
    finally:
        manager.unload_profile()


def op_setting(args: dict[str, Any]) -> dict[str, Any]:
    from aiida.storage.psql_dos import PsqlDosBackend

    storage = PsqlDosBackend(make_profile(args))
    try:
        if "value" in args:
            storage.set_global_variable(args["key"], args["value"], args.get("description"))
        return {"value": storage.get_global_variable(args["key"])}
    finally:
        storage.close()


def op_import_archive(args: dict[str, Any]) -> dict[str, Any]:
    """Import ``args["path"]`` with aiida-core (``verdi archive import`` semantics, default options)."""
    import time

    from aiida import orm
    from aiida.manage import get_manager
    from aiida.tools.archive import import_archive

    profile = make_profile(args)
    manager = get_manager()
    manager.load_profile(profile, allow_switch=True)
    try:
        # A profile made by `verdi presetup` has its default user; the import group is created as that user.
        created, user = orm.User.collection.get_or_create(email=profile.default_user_email)
        if created:
            user.store()
        started = time.monotonic()
        group_pk = import_archive(args["path"], **args.get("options", {}))  # the import group's pk, or None
        group = None if group_pk is None else orm.load_group(group_pk)
        seconds = time.monotonic() - started
        storage = manager.get_profile_storage()
        return {
            "counts": counts(storage),
            "import_group": None
            if group is None
            else {"label": group.label, "type": group.type_string, "size": group.count()},
            "seconds": round(seconds, 3),
            "repository_objects": len(list(storage.get_repository().list_objects())),
            "user_emails": sorted(u.email for u in orm.User.collection.all()),
        }
    finally:
        manager.unload_profile()


OPERATIONS = {
    "version_profile": op_version_profile,
    "initialise": op_initialise,
    "open": op_open,
    "clear": op_clear,
    "populate": op_populate,
    "setting": op_setting,
    "import_archive": op_import_archive,
}


def run(operations: dict[str, Any], argv: list[str]) -> int:
    """Read the JSON arguments (argv[1], or stdin with "-"), run ``operations[args["op"]]``, print the result.

    An aiida error becomes ``{"error": {"type", "message"}}`` with exit code 3. Shared by the other scripts
    of this folder (graph_ops.py).
    """
    from aiida.common.exceptions import AiidaException

    args = json.loads(sys.stdin.read() if argv[1:] == ["-"] else argv[1])
    try:
        result = operations[args["op"]](args)
    except AiidaException as exc:
        print("RESULT:" + json.dumps({"error": {"type": type(exc).__name__, "message": str(exc)}}))
        return 3
    print("RESULT:" + json.dumps(result, default=_JSON_DEFAULT, sort_keys=True))
    return 0


def main(argv: list[str]) -> int:
    return run(OPERATIONS, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
