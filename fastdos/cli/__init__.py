"""The ``fastdos`` command: one click group, :data:`main`, with the commands of the modules beside this one.

Layout (imports flow one way: this module imports the command modules, they import :mod:`.base` and
:mod:`.progress`, and none of them imports this module):

- ``base.py``: error reporting (:func:`~.base.reported`), exit codes, ``--profile``/``--aiida`` options,
  :func:`~.base.open_backend`, output formatting;
- ``progress.py``: progress bars on a terminal, one line per stage otherwise;
- one module per area: ``server.py``, ``storage.py`` (init, version, migrate, info), ``ingest.py``
  (generate, import), ``graph.py`` (delete, integrity), ``maintenance.py`` (maintain, backup, restore),
  ``query.py`` (index, closure), ``alembic.py``.

Adding a command
----------------
1. Write a module here, e.g. ``fastdos/cli/export.py``, that defines a click command or group
   (``@click.command("export")``, not ``@main.command``) and imports only click, :mod:`.base` and
   :mod:`.progress` at module level. Import fastdos' heavy modules (backend, migrator, alembic, psycopg,
   disk-objectstore, ...) inside the command function: ``fastdos --help`` imports every command module,
   and ``tests/test_cli_package.py`` fails when one of them pulls in a heavy module.
2. Wrap the work in ``with open_backend(profile_name) as storage:`` (opens an initialised profile) or
   ``with reported():``, so a fastdos error or an ``OSError`` ends as one line and a non-zero exit.
3. Add one line to :data:`COMMANDS` below: ``("export", "export")`` (module in this package, attribute).
   A command that lives elsewhere is named by its full module path, e.g. ``("fastdos.aiida.cli", "aiida")``
   for ``fastdos aiida enable|disable``; the same rule holds for it: aiida-core and other heavy modules are
   imported inside the command functions, never at module level.
4. Add the command with hostile arguments to ``tests/test_cli_hostile.py``.

Code outside this package can also call ``fastdos.cli.register(command)`` before ``main()`` runs.

Exit codes follow ``verdi storage``: 0 success, 1 failure, 3 ``CorruptStorage`` / ``UnreachableStorage``,
4 ``IncompatibleStorageSchema``; 2 is click's usage error.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from .. import __version__
from .base import EXIT_INCOMPATIBLE, EXIT_UNREACHABLE, fail, render, report_error, reported, resolve_profile

__all__ = [
    "COMMANDS",
    "EXIT_INCOMPATIBLE",
    "EXIT_UNREACHABLE",
    "fail",
    "main",
    "register",
    "render",
    "reported",
    "resolve_profile",
]

# (module, attribute): every command of `fastdos` (`--help` lists them alphabetically). A module name without
# a dot is one of this package; a full path ("fastdos.aiida.cli") is imported as it is.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("storage", "init"),
    ("storage", "version"),
    ("storage", "migrate"),
    ("storage", "info"),
    ("ingest", "generate"),
    ("ingest", "import_"),
    ("fastdos.exporter.command", "export_command"),
    ("graph", "delete"),
    ("graph", "integrity"),
    ("maintenance", "maintain"),
    ("maintenance", "backup"),
    ("maintenance", "restore"),
    ("query", "index"),
    ("query", "closure"),
    ("server", "server"),
    ("alembic", "alembic"),
    ("fastdos.aiida.cli", "aiida"),
)


class FastdosGroup(click.Group):
    """The top-level group: whatever a command lets escape ends as one line and a non-zero exit."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # click's own: usage errors (exit 2), --help, ctrl-c
        except Exception as exc:
            report_error(exc)


@click.group(cls=FastdosGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="fastdos", message="%(prog)s %(version)s")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """fastdos: a raw-SQL storage engine for AiiDA psql_dos storages."""
    import logging

    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def register(command: click.Command) -> click.Command:
    """Add ``command`` (a click command or group) to ``fastdos``; returns it, so it also works as a decorator."""
    main.add_command(command)
    return command


for _module, _attribute in COMMANDS:
    _path = _module if "." in _module else f"{__name__}.{_module}"
    register(getattr(importlib.import_module(_path), _attribute))


if __name__ == "__main__":
    main()
