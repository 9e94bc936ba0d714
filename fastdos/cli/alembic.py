"""``fastdos alembic ...``: alembic's own commands on the profile's database (for developers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from .base import aiida_option, fail, initialised_profile, profile_option, reported


def _alembic_command(name: str) -> Callable[..., None]:
    def callback(profile_name: str | None, aiida_profile: str | None, **kwargs: Any) -> None:
        from alembic.util import CommandError

        from ..alembic_cli import AlembicRunner

        with reported():
            runner = AlembicRunner(initialised_profile(profile_name, aiida_profile))
            try:
                runner.execute_alembic_command(name, **{k: v for k, v in kwargs.items() if v is not None})
            except CommandError as exc:  # alembic's own refusal (an unknown revision, say): a usage problem
                fail(f"alembic {name}: {exc}")

    return callback


@click.group()
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
