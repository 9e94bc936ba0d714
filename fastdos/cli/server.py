"""``fastdos server start|stop|status``: fastdos' embedded PostgreSQL cluster."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .base import EXIT_UNREACHABLE, fail, reported

if TYPE_CHECKING:
    from ..server import EmbeddedServer


@click.group()
def server() -> None:
    """Manage fastdos' embedded PostgreSQL cluster."""


def _server(data_dir: str | None, port: int | None, tcp: bool) -> EmbeddedServer:
    from ..profile import Profile
    from ..server import EmbeddedServer

    default = Profile.embedded_profile().embedded
    assert default is not None
    return EmbeddedServer(Path(data_dir) if data_dir else default.data_dir, port=port or default.port, tcp=tcp)


data_dir_option = click.option("--data-dir", type=click.Path(file_okay=False), help="Cluster data directory.")
port_option = click.option(
    "--port", type=click.IntRange(1, 65535), help="Port (socket name; TCP port with --tcp)."
)


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
@click.option("--force", is_flag=True, help="Stop even when sessions are connected (they are disconnected).")
def server_stop(data_dir: str | None, port: int | None, force: bool) -> None:
    """Stop the cluster; refused while sessions are connected, unless --force."""
    with reported():
        embedded = _server(data_dir, port, False)
        if not embedded.is_running():
            click.echo(f"not running ({embedded.data_dir})")
            return
        from ..admin import client_sessions

        sessions = client_sessions(embedded.conninfo())
        count = sum(n for _, _, n in sessions)
        if count and not force:
            who = ", ".join(f"{n} on {d or '?'} ({a or 'no application name'})" for d, a, n in sessions[:5])
            fail(
                f"{count} session(s) are connected to the server in {embedded.data_dir}: {who}; stopping "
                "disconnects them: close them first, or pass --force"
            )
        embedded.stop()
        click.echo(f"stopped ({count} session(s) disconnected)" if count else "stopped")


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


from .replica import replica  # noqa: E402  (the `server replica ...` subgroup, in its own module)

server.add_command(replica)
