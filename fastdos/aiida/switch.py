"""Switch an AiiDA profile between ``core.psql_dos`` and ``fastdos`` (``fastdos aiida enable/disable``).

Both entry points use the same database schema and container, so a switch is one change in AiiDA's
``config.json``: ``profiles.<name>.storage.backend``. Nothing in the database or the repository changes.
Before writing, the storage is opened with the target backend class (aiida-core's validation: reachable,
schema at head, repository UUIDs agree); the file is written beside the old one and renamed over it
(atomic on POSIX), after a copy of the old file is kept as ``config.json.<backend>-backup``. The file's mode
is kept (aiida-core writes it 0600: it holds database passwords).

aiida-core is imported inside the functions only; without it the error says how to install it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError

PSQL_DOS = "core.psql_dos"
FASTDOS = "fastdos"
BACKUP_SUFFIX = ".fastdos-backup"


class SwitchError(ConfigurationError):
    """A switch that cannot be done; the message is one line naming the problem. The config is untouched."""


@dataclass(frozen=True)
class SwitchResult:
    """What a switch did: the profile, the backends before and after, the config file and its backup."""

    profile: str
    before: str
    after: str
    config: Path
    backup: Path | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def config_file() -> Path:
    """AiiDA's ``config.json``, located by aiida-core itself (``AIIDA_PATH`` rules included)."""
    try:
        from aiida.manage.configuration import get_config_path
    except ImportError as exc:
        raise SwitchError(
            f"aiida-core is not installed ({exc.name}); install it with `pip install fastdos[aiida]`"
        ) from None
    return Path(get_config_path())


def enable(profile_name: str) -> SwitchResult:
    """Make profile ``profile_name`` (on ``core.psql_dos``) use the ``fastdos`` storage plugin."""
    return _switch(profile_name, PSQL_DOS, FASTDOS)


def disable(profile_name: str) -> SwitchResult:
    """Put profile ``profile_name`` back on aiida-core's ``core.psql_dos``."""
    return _switch(profile_name, FASTDOS, PSQL_DOS)


def _switch(profile_name: str, source: str, target: str) -> SwitchResult:
    path = config_file()
    config = _read(path)
    profiles = config.get("profiles")
    if not isinstance(profiles, dict) or profile_name not in profiles:
        known = sorted(profiles) if isinstance(profiles, dict) else []
        raise SwitchError(f"profile {profile_name!r} not found in {path}; known profiles: {known}")
    entry = profiles[profile_name]
    storage = entry.get("storage") if isinstance(entry, dict) else None
    backend = storage.get("backend") if isinstance(storage, dict) else None
    if backend == target:
        return SwitchResult(profile_name, target, target, path, None)
    if backend != source:
        raise SwitchError(
            f"profile {profile_name!r} uses storage {backend!r}; only {PSQL_DOS!r} and {FASTDOS!r} profiles can "
            "be switched (same database schema)"
        )
    _validate(profile_name, entry, target)
    new_config = json.loads(json.dumps(config))  # a deep copy that is certain to serialise again
    new_config["profiles"][profile_name]["storage"]["backend"] = target
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    _write_atomically(path, new_config, backup)
    return SwitchResult(profile_name, source, target, path, backup)


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SwitchError(f"no AiiDA configuration at {path} (is AIIDA_PATH right?)") from None
    except OSError as exc:
        raise SwitchError(f"cannot read the AiiDA configuration {path}: {exc.strerror}") from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SwitchError(f"the AiiDA configuration {path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise SwitchError(f"the AiiDA configuration {path} is not a JSON object")
    return config


def _validate(profile_name: str, entry: dict[str, Any], target: str) -> None:
    """Open the storage with the target class (aiida-core's validation), then close it."""
    from aiida.common.exceptions import AiidaException
    from aiida.manage.configuration.profile import Profile
    from aiida.storage.psql_dos.backend import PsqlDosBackend

    from .backend import FastdosStorage

    storage_cls: Any = FastdosStorage if target == FASTDOS else PsqlDosBackend

    profile = Profile(profile_name, json.loads(json.dumps(entry)), validate=False)
    try:
        storage = storage_cls(profile)
    except (AiidaException, KeyError, OSError) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise SwitchError(
            f"the storage of profile {profile_name!r} does not validate for {target!r}: {detail}"
        ) from None
    except Exception as exc:  # e.g. the database server is down (SQLAlchemy's OperationalError)
        detail = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise SwitchError(
            f"the storage of profile {profile_name!r} cannot be opened: {type(exc).__name__}: {detail}"
        ) from None
    storage.close()


def _write_atomically(path: Path, config: dict[str, Any], backup: Path) -> None:
    """Keep a copy of ``path`` as ``backup``, then replace ``path`` by a temp file in its folder."""
    try:
        mode = path.stat().st_mode & 0o777
        # The backup is written to a temp file and renamed too: never half a backup, never into a folder.
        fd, tmp_backup = tempfile.mkstemp(prefix=f".{backup.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            shutil.copy2(path, tmp_backup)
            os.replace(tmp_backup, backup)
        finally:
            Path(tmp_backup).unlink(missing_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise SwitchError(f"cannot write beside the AiiDA configuration {path}: {exc.strerror}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=4)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SwitchError(f"cannot write the AiiDA configuration {path}: {exc.strerror}") from None
