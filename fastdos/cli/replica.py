"""``fastdos server replica create|status|start|stop|remove``: hot standbys of a profile's embedded cluster."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from .base import EXIT_UNREACHABLE, fail, initialised_profile, profile_option, reported

if TYPE_CHECKING:
    from ..profile import Profile
    from ..replica_config import ReplicaConfig

name_option = click.option("--name", "replica_name", help="Replica name (default: replica<N>).")
required_name = click.option("--name", "replica_name", required=True, help="The replica's name.")


@click.group()
def replica() -> None:
    """Manage read replicas (hot standbys) of a profile's embedded cluster."""


def _named(profile: Profile, name: str) -> ReplicaConfig:
    return profile.replicas.named(name)


@replica.command("create")
@profile_option
@click.option("--data-dir", required=True, type=click.Path(file_okay=False), help="New, empty data directory.")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (socket name) of the standby.")
@name_option
def replica_create(profile_name: str | None, data_dir: str, port: int | None, replica_name: str | None) -> None:
    """Copy the profile's embedded cluster with pg_basebackup, start it as a hot standby, register it."""
    from pathlib import Path

    from ..replica_server import create_replica

    with reported():
        prof = initialised_profile(profile_name)
        updated = create_replica(prof, Path(data_dir), port, replica_name)
        made = updated.replicas.servers[-1]
        click.echo(f"replica {made.name!r} of profile {prof.name!r} running: {made.safe_dsn()}")


@replica.command("status")
@profile_option
@click.option("--name", "replica_name", help="Only this replica.")
def replica_status(profile_name: str | None, replica_name: str | None) -> None:
    """Show each replica: running, replay lag, whether reads use it; exit 3 when one is not usable."""
    from ..backend import Backend

    with reported():
        prof = initialised_profile(profile_name)
        if not prof.replicas.servers:
            fail(f"profile {prof.name!r} has no replicas; `fastdos server replica create` makes one")
        wanted = [_named(prof, replica_name).name] if replica_name else [r.name for r in prof.replicas.servers]
        with Backend(prof, reads="replica") as storage:
            states = [s for s in storage.replica_status() if s.name in wanted]
    for state in states:
        lag = "?" if state.lag_seconds is None else f"{state.lag_seconds:.3g} s"
        use = "in use" if state.in_use else "not in use"
        why = f" ({state.reason})" if state.reason else ""
        click.echo(f"{state.name}: {state.state}{why}, lag {lag}, {use} [{state.dsn}]")
    if any(s.state not in ("ok", "catching up", "behind our writes") for s in states):
        sys.exit(EXIT_UNREACHABLE)


@replica.command("start")
@profile_option
@required_name
def replica_start(profile_name: str | None, replica_name: str) -> None:
    """Start a stopped replica; it catches up from the primary."""
    from ..replica_server import start_replica

    with reported():
        status = start_replica(_named(initialised_profile(profile_name), replica_name))
        click.echo(f"running (pid {status.pid}) in {status.data_dir}")


@replica.command("stop")
@profile_option
@required_name
def replica_stop(profile_name: str | None, replica_name: str) -> None:
    """Stop a replica (reads go to the primary meanwhile)."""
    from ..replica_server import stop_replica

    with reported():
        stop_replica(_named(initialised_profile(profile_name), replica_name))
        click.echo("stopped")


@replica.command("remove")
@profile_option
@required_name
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
def replica_remove(profile_name: str | None, replica_name: str, force: bool) -> None:
    """Stop a replica, drop its slot, delete its data directory and unregister it (one of your own servers
    is only unregistered)."""
    from ..replica_server import remove_replica

    with reported():
        prof = initialised_profile(profile_name)
        config = _named(prof, replica_name)
        if not force:
            where = config.embedded.data_dir if config.embedded else config.safe_dsn()
            click.confirm(f"Delete replica {config.name!r} and its data directory {where}?", abort=True)
        remove_replica(prof, replica_name)
        click.echo(f"removed replica {replica_name!r}")
