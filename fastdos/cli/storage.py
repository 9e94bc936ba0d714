"""``fastdos init|version|migrate|info``: the life cycle of a storage."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import click

from .base import aiida_option, fail, initialised_profile, profile_option, render, reported

if TYPE_CHECKING:
    from ..profile import Profile

PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


@click.command("init")
@profile_option
@click.option("--dsn", help="libpq DSN of an existing server/database (default: the embedded cluster).")
@click.option("--repository", type=click.Path(file_okay=False), help="Repository folder (with --dsn).")
@click.option("--reset", is_flag=True, help="Delete all data first.")
def init(profile_name: str | None, dsn: str | None, repository: str | None, reset: bool) -> None:
    """Create (if needed) and initialise a storage, and save its profile."""
    from ..backend import Backend
    from ..profile import save_profile

    with reported():
        prof = new_or_saved_profile(profile_name, dsn, repository)
        prepare_storage(prof)
        created = Backend.initialise(prof, reset=reset)
        path = save_profile(prof)
        click.echo(f"{'initialised' if created else 'already initialised'}: {prof.name} ({path})")


def new_or_saved_profile(profile_name: str | None, dsn: str | None, repository: str | None) -> Profile:
    """The profile ``init`` (and ``restore``) works on: from ``--dsn/--repository``, else the saved one,
    else a new embedded one. Validates ``repository_uri`` before anything is created.
    """
    from .. import profile as profiles
    from ..errors import ConfigurationError

    name = profile_name or profiles.DEFAULT_PROFILE_NAME
    if name not in profiles.saved_profile_names() and not PROFILE_NAME.match(name):
        # The name becomes a folder under FASTDOS_HOME and part of a database name.
        raise click.BadParameter(
            f"{name!r}: a new profile's name is letters, digits, '_', '-' and '.', starting with a letter or digit",
            param_hint="'--profile'",
        )
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
    return prof


def prepare_storage(prof: Profile) -> None:
    """Start the embedded cluster of ``prof`` (initdb on first use) and create its database if missing."""
    from ..backend import ensure_server
    from ..migrator import ensure_database

    ensure_server(prof)
    ensure_database(prof)


@click.command("version")
@profile_option
@aiida_option
def version(profile_name: str | None, aiida_profile: str | None) -> None:
    """Print the head schema version and the profile's, then validate the storage."""
    from ..backend import Backend

    with reported():
        prof = initialised_profile(profile_name, aiida_profile)
        click.echo(f"Latest storage schema version: {Backend.version_head()!r}")
        click.echo(f"Storage schema version of {prof.name!r}: {Backend.version_profile(prof)!r}")
        Backend(prof).close()


@click.command("migrate")
@profile_option
@aiida_option
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
def migrate(profile_name: str | None, aiida_profile: str | None, force: bool) -> None:
    """Migrate the storage to the head schema version."""
    from ..backend import Backend
    from ..errors import ConfigurationError, StorageMigrationError

    with reported():
        prof = initialised_profile(profile_name, aiida_profile)
        if not force:
            click.echo("Migrating changes the storage in place; make a backup first.")
            answer = click.prompt("Type MIGRATE NOW to continue", default="", show_default=False)
            if answer != "MIGRATE NOW":
                fail("migration aborted, the storage was not changed")
        try:
            Backend.migrate(prof)
        except (ConfigurationError, StorageMigrationError) as exc:
            fail(str(exc).strip())  # exit 1 whatever the kind, as before
        click.echo("migration completed")


@click.command("info")
@profile_option
@aiida_option
@click.option("--detailed", is_flag=True, help="Also list emails, labels, types and sizes.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML-like text.")
def info(profile_name: str | None, aiida_profile: str | None, detailed: bool, as_json: bool) -> None:
    """Print what the storage holds."""
    from ..backend import Backend

    with reported():
        prof = initialised_profile(profile_name, aiida_profile)
        with Backend(prof) as storage:
            data = {"profile": prof.name, "storage": str(storage), **storage.get_info(detailed=detailed)}
            if prof.replicas.servers and "replicas" not in data:  # each replica, its lag, whether in use
                data["replicas"] = {r.name: r.as_dict() for r in storage.replica_status()}
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        click.echo(render(data))
