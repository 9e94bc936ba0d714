"""The ``fastdos`` command.

Exit codes follow ``verdi storage``: 0 success, 1 unexpected failure, 3 ``CorruptStorage`` /
``UnreachableStorage``, 4 ``IncompatibleStorageSchema``; 2 is click's usage error.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from . import profile as profiles
from .errors import (
    ConfigurationError,
    CorruptStorage,
    FastdosError,
    IncompatibleStorageSchema,
    StorageMigrationError,
    UnreachableStorage,
)

EXIT_UNREACHABLE = 3
EXIT_INCOMPATIBLE = 4


def fail(message: str, code: int = 1) -> None:
    """Print an error to stderr and exit with ``code``."""
    click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(code)


@contextmanager
def reported() -> Iterator[None]:
    """Turn fastdos errors into a message and verdi's exit code."""
    try:
        yield
    except IncompatibleStorageSchema as exc:
        fail(str(exc).strip(), EXIT_INCOMPATIBLE)
    except (CorruptStorage, UnreachableStorage) as exc:
        fail(str(exc).strip(), EXIT_UNREACHABLE)
    except (FastdosError, KeyError, ValueError) as exc:
        fail(str(exc).strip())


def resolve_profile(name: str | None, aiida: str | None = None) -> profiles.Profile:
    """fastdos profile ``name`` (default profile when None), or the AiiDA profile named by ``--aiida``."""
    if aiida is not None:
        return profiles.Profile.from_aiida(aiida or None)
    return profiles.load_profile(name)


profile_option = click.option("-p", "--profile", "profile_name", help="Profile name (default: the default profile).")
aiida_option = click.option(
    "--aiida", "aiida_profile", default=None, help="Use this profile of AiiDA's config.json instead of fastdos'."
)


@click.group()
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """fastdos: a raw-SQL storage engine for AiiDA psql_dos storages."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


# --- server ------------------------------------------------------------------------------------------------


@main.group()
def server() -> None:
    """Manage fastdos' embedded PostgreSQL cluster."""


def _server(data_dir: str | None, port: int | None, tcp: bool) -> Any:
    from .server import EmbeddedServer

    default = profiles.Profile.embedded_profile().embedded
    assert default is not None
    return EmbeddedServer(Path(data_dir) if data_dir else default.data_dir, port=port or default.port, tcp=tcp)


data_dir_option = click.option("--data-dir", type=click.Path(file_okay=False), help="Cluster data directory.")
port_option = click.option("--port", type=int, help="Port (socket name; TCP port with --tcp).")


@server.command("start")
@data_dir_option
@port_option
@click.option("--tcp", is_flag=True, help="Also listen on 127.0.0.1:<port>.")
def server_start(data_dir: str | None, port: int | None, tcp: bool) -> None:
    """Start the cluster (initdb on first use); it keeps running after this command exits."""
    with reported():
        status = _server(data_dir, port, tcp).start()
        click.echo(f"running (pid {status.pid}) PostgreSQL {status.version} in {status.data_dir}")


@server.command("stop")
@data_dir_option
@port_option
def server_stop(data_dir: str | None, port: int | None) -> None:
    """Stop the cluster."""
    with reported():
        _server(data_dir, port, False).stop()
        click.echo("stopped")


@server.command("status")
@data_dir_option
@port_option
def server_status(data_dir: str | None, port: int | None) -> None:
    """Show whether the cluster runs; exit 3 when it does not."""
    with reported():
        status = _server(data_dir, port, False).status()
    if status.running:
        click.echo(f"running (pid {status.pid}) PostgreSQL {status.version} in {status.data_dir}")
    else:
        click.echo(f"not running ({status.data_dir})")
        sys.exit(EXIT_UNREACHABLE)


# --- storage lifecycle -------------------------------------------------------------------------------------


@main.command("init")
@profile_option
@click.option("--dsn", help="libpq DSN of an existing server/database (default: the embedded cluster).")
@click.option("--repository", type=click.Path(file_okay=False), help="Repository folder (with --dsn).")
@click.option("--reset", is_flag=True, help="Delete all data first.")
def init(profile_name: str | None, dsn: str | None, repository: str | None, reset: bool) -> None:
    """Create (if needed) and initialise a storage, and save its profile."""
    from .backend import Backend
    from .migrator import ensure_database

    with reported():
        name = profile_name or profiles.DEFAULT_PROFILE_NAME
        if dsn:
            if not repository:
                raise click.UsageError("--dsn needs --repository")
            prof = profiles.Profile.from_dsn(name, dsn, repository)
        elif repository:
            raise click.UsageError("--repository needs --dsn (embedded profiles keep it under FASTDOS_HOME)")
        else:
            try:
                prof = profiles.load_profile(name)
            except ConfigurationError:
                prof = profiles.Profile.embedded_profile(name)
        prof.repository_path  # noqa: B018 - validates repository_uri before anything is created
        from .backend import ensure_server

        ensure_server(prof)
        ensure_database(prof)
        created = Backend.initialise(prof, reset=reset)
        path = profiles.save_profile(prof)
        click.echo(f"{'initialised' if created else 'already initialised'}: {prof.name} ({path})")


@main.command("version")
@profile_option
@aiida_option
def version(profile_name: str | None, aiida_profile: str | None) -> None:
    """Print the head schema version and the profile's, then validate the storage."""
    from .backend import Backend

    with reported():
        prof = resolve_profile(profile_name, aiida_profile)
        click.echo(f"Latest storage schema version: {Backend.version_head()!r}")
        click.echo(f"Storage schema version of {prof.name!r}: {Backend.version_profile(prof)!r}")
        Backend(prof).close()


@main.command("migrate")
@profile_option
@aiida_option
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
def migrate(profile_name: str | None, aiida_profile: str | None, force: bool) -> None:
    """Migrate the storage to the head schema version."""
    from .backend import Backend

    with reported():
        prof = resolve_profile(profile_name, aiida_profile)
        if not force:
            click.echo("Migrating changes the storage in place; make a backup first.")
            answer = click.prompt("Type MIGRATE NOW to continue", default="", show_default=False)
            if answer != "MIGRATE NOW":
                fail("migration aborted, the storage was not changed")
        try:
            Backend.migrate(prof)
        except (ConfigurationError, StorageMigrationError) as exc:
            fail(str(exc).strip())
        click.echo("migration completed")


@main.command("info")
@profile_option
@aiida_option
@click.option("--detailed", is_flag=True, help="Also list emails, labels, types and sizes.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML-like text.")
def info(profile_name: str | None, aiida_profile: str | None, detailed: bool, as_json: bool) -> None:
    """Print what the storage holds."""
    from .backend import Backend

    with reported():
        prof = resolve_profile(profile_name, aiida_profile)
        with Backend(prof) as storage:
            data = {"profile": prof.name, "storage": str(storage), **storage.get_info(detailed=detailed)}
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        click.echo(render(data))


def render(data: dict[str, Any], indent: int = 0) -> str:
    """A YAML-like rendering of nested dicts (what ``verdi storage info`` prints)."""
    lines: list[str] = []
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"{' ' * indent}{key}:")
            lines.append(render(value, indent + 2))
        else:
            lines.append(f"{' ' * indent}{key}: {value}")
    return "\n".join(line for line in lines if line)


# --- alembic -----------------------------------------------------------------------------------------------


def _alembic_command(name: str) -> Callable[..., None]:
    def callback(profile_name: str | None, aiida_profile: str | None, **kwargs: Any) -> None:
        from .alembic_cli import AlembicRunner

        with reported():
            runner = AlembicRunner(resolve_profile(profile_name, aiida_profile))
            runner.execute_alembic_command(name, **{k: v for k, v in kwargs.items() if v is not None})

    return callback


@main.group()
def alembic() -> None:
    """Run alembic commands on the profile's database (developers)."""


for _name, _params in (
    ("current", []),
    ("history", []),
    ("upgrade", [click.argument("revision")]),
    ("downgrade", [click.argument("revision")]),
    ("revision", [click.option("-m", "--message", "message")]),
):
    _cmd: Any = _alembic_command(_name)
    for _param in _params:
        _cmd = _param(_cmd)
    alembic.command(_name)(aiida_option(profile_option(_cmd)))


# Data commands live in their own module; importing it registers them on `main`.
from . import cli_ops  # noqa: E402, F401

if __name__ == "__main__":
    main()
