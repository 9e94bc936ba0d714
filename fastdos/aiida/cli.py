"""``fastdos aiida enable/disable PROFILE``: switch an AiiDA profile's storage between core.psql_dos and fastdos.

aiida-core is imported only when a command runs (through :mod:`fastdos.aiida.switch`). Errors are one line on
stderr with exit status 1, and the configuration is then untouched.
"""

from __future__ import annotations

import click


@click.group("aiida")
def aiida() -> None:
    """Use fastdos inside aiida-core: switch a profile's storage plugin (same database, nothing migrated)."""


@aiida.command("enable")
@click.argument("profile")
def enable(profile: str) -> None:
    """Make AiiDA profile PROFILE (core.psql_dos) use the fastdos storage plugin."""
    _run("enable", profile)


@aiida.command("disable")
@click.argument("profile")
def disable(profile: str) -> None:
    """Put AiiDA profile PROFILE back on aiida-core's core.psql_dos."""
    _run("disable", profile)


def _run(action: str, profile: str) -> None:
    from ..errors import FastdosError
    from . import switch

    try:
        result = switch.enable(profile) if action == "enable" else switch.disable(profile)
    except FastdosError as exc:
        raise click.ClickException(str(exc)) from None
    if not result.changed:
        click.echo(f"profile {profile!r} already uses storage {result.after!r}; nothing changed")
        return
    click.echo(
        f"profile {profile!r}: storage {result.before!r} -> {result.after!r} in {result.config} "
        f"(previous file kept as {result.backup})"
    )
