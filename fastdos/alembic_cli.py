"""``AlembicRunner``: alembic commands on a profile's database (aiida-core's ``alembic_cli`` equivalent)."""

from __future__ import annotations

from typing import Any

from alembic import command

from .migrator import Migrator
from .profile import Profile, load_profile


class AlembicRunner:
    """Runs an alembic command with fastdos' script directory and the profile's connection."""

    def __init__(self, profile: Profile | None = None) -> None:
        self.profile = profile

    def execute_alembic_command(self, command_name: str, connect: bool = True, **kwargs: Any) -> None:
        """Run ``alembic <command_name>``; ``connect=False`` for commands that need no database."""
        profile = self.profile or load_profile()
        func = getattr(command, command_name)
        migrator = Migrator(profile)
        if not connect:
            from .migrator import alembic_config

            func(alembic_config(), **kwargs)
            return
        with migrator.alembic_context() as (config, _connection):
            func(config, **kwargs)
