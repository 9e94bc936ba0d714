"""What every ``fastdos`` command shares: error reporting, exit codes, profile options, output formatting.

This module imports only click and the standard library at import time, so that ``fastdos --help`` stays
fast; fastdos' own modules are imported inside the functions that need them. Command modules import from
here; nothing here imports a command module or :mod:`fastdos.cli` itself.

Exit codes follow ``verdi storage``: 0 success, 1 failure, 3 ``CorruptStorage`` / ``UnreachableStorage``,
4 ``IncompatibleStorageSchema``; 2 is click's usage error.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from ..backend import Backend
    from ..profile import Profile

EXIT_FAILURE = 1
EXIT_UNREACHABLE = 3
EXIT_INCOMPATIBLE = 4

LOGGER_NAME = "fastdos.cli"  # logging is imported when a message needs it: not for `--help`


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Print ``Error: <first line of message>`` to stderr and exit with ``code``.

    A message of several lines (a server log tail, say) shows its first line; the rest is logged at INFO,
    so ``fastdos -v`` prints it.
    """
    import logging

    logger = logging.getLogger(LOGGER_NAME)
    lines = [line for line in str(message).strip().splitlines() if line.strip()] or ["unknown error"]
    first = lines[0]
    if len(lines) > 1:
        if logger.isEnabledFor(logging.INFO):
            logger.info("details:\n%s", "\n".join(lines[1:]))
        else:
            first += " (run `fastdos -v ...` for details)"
    click.secho(f"Error: {first}", fg="red", err=True)
    sys.exit(code)


def exit_code(exc: BaseException) -> int:
    """verdi's exit code for a fastdos error."""
    from ..errors import CorruptStorage, IncompatibleStorageSchema, UnreachableStorage

    if isinstance(exc, IncompatibleStorageSchema):
        return EXIT_INCOMPATIBLE
    if isinstance(exc, CorruptStorage | UnreachableStorage):
        return EXIT_UNREACHABLE
    return EXIT_FAILURE


def describe(exc: BaseException) -> str:
    """The one-line text of an error the user can act on (an ``OSError`` names its file)."""
    if isinstance(exc, OSError) and not _is_fastdos_error(exc):
        reason = exc.strerror or str(exc) or type(exc).__name__
        where = f": {exc.filename}" if exc.filename else ""
        return f"{reason}{where}"
    if isinstance(exc, KeyError) and not _is_fastdos_error(exc):
        return f"missing key {exc}"
    text = str(exc).strip() or type(exc).__name__
    detail = getattr(exc, "detail", None)
    if detail:  # what the library adds for people, e.g. the unknown and missing keys of a key-set error
        text += f" ({detail})"
    first, _, rest = text.partition("\n")
    if _MISSING_DATABASE.search(first) and "fastdos init" not in text:
        # The profile exists but its database does not (dropped, or a profile saved by hand).
        return f"{first}; `fastdos init` creates and initialises it\n{rest}".strip()
    return text


_MISSING_DATABASE = re.compile(r'database "[^"]*" does not exist')


def _is_fastdos_error(exc: BaseException) -> bool:
    from ..errors import FastdosError

    return isinstance(exc, FastdosError)


def report_error(exc: BaseException) -> NoReturn:
    """Print ``exc`` as one line and exit with its code (used by :func:`reported` and the top-level group)."""
    from ..errors import FastdosError

    if isinstance(exc, FastdosError | OSError | KeyError | ValueError):
        fail(describe(exc), exit_code(exc))
    # Not one of ours: still one line, and the traceback for whoever debugs it with -vv.
    import logging

    logging.getLogger(LOGGER_NAME).debug("unexpected error", exc_info=exc)
    fail(f"unexpected {type(exc).__name__}: {describe(exc)} (run `fastdos -vv ...` for the traceback)")


@contextmanager
def reported() -> Iterator[None]:
    """Turn fastdos errors (and ``OSError``/``KeyError``/``ValueError``) into one line and verdi's exit code."""
    from ..errors import FastdosError

    try:
        yield
    except (FastdosError, OSError, KeyError, ValueError) as exc:
        report_error(exc)


# --- profiles ------------------------------------------------------------------------------------------


def resolve_profile(name: str | None, aiida: str | None = None) -> Profile:
    """fastdos profile ``name`` (default profile when None), or the AiiDA profile named by ``--aiida``."""
    from .. import profile as profiles

    if aiida is not None:
        return profiles.Profile.from_aiida(aiida or None)
    return profiles.load_profile(name)


def require_initialised(profile: Profile) -> None:
    """Refuse to go on when an embedded profile was never initialised: commands other than ``init`` and
    ``restore`` must not create a cluster (running initdb and leaving a server behind) as a side effect.
    """
    from .. import profile as profiles
    from ..errors import ConfigurationError

    if profile.embedded is None:
        return
    saved = profile.name in profiles.saved_profile_names()
    has_cluster = (profile.embedded.data_dir / "PG_VERSION").exists()
    if not (saved and has_cluster):
        flag = "" if profile.name == profiles.DEFAULT_PROFILE_NAME else f" --profile {profile.name}"
        reason = "it has no database cluster yet" if saved else f"it is not in {profiles.config_path()}"
        raise ConfigurationError(f"profile {profile.name!r} is not initialised ({reason}); run `fastdos init{flag}`")


def initialised_profile(name: str | None, aiida: str | None = None) -> Profile:
    """:func:`resolve_profile`, refusing an embedded profile that ``fastdos init`` has not created."""
    profile = resolve_profile(name, aiida)
    if aiida is None:
        require_initialised(profile)
    return profile


@contextmanager
def open_backend(profile_name: str | None, aiida_profile: str | None = None) -> Iterator[Backend]:
    """Open the profile's storage for one command (errors reported with verdi's exit codes)."""
    from ..backend import Backend

    with reported(), Backend(initialised_profile(profile_name, aiida_profile)) as storage:
        yield storage


profile_option = click.option("-p", "--profile", "profile_name", help="Profile name (default: the default profile).")
aiida_option = click.option(
    "--aiida", "aiida_profile", default=None, help="Use this profile of AiiDA's config.json instead of fastdos'."
)


@contextmanager
def quieter(logger_name: str) -> Iterator[None]:
    """Hide the WARNING records of ``logger_name`` (unless ``-v`` was given) while a command prints the same
    facts itself."""
    import logging

    logger = logging.getLogger(logger_name)
    if logger.isEnabledFor(logging.INFO):
        yield
        return
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


# --- output --------------------------------------------------------------------------------------------


def figure(value: float) -> str:
    """A measured figure as a person reads it: three significant digits, thousands grouped above 1000."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if value == 0:
        return "0"
    if abs(value) < 0.001:
        return f"{value:.6f}".rstrip("0").rstrip(".") or "0"  # no exponent: 0.000025, not 2.5e-05
    return f"{value:.3g}"


# A decimal with five or more digits after the point, in a report line written elsewhere (a repository
# size in MB such as 0.0068187713623046875, as aiida words it).
_LONG_DECIMAL = re.compile(r"(?<![\w.])\d+\.\d{5,}(?![\w.])")


def rounded(line: str) -> str:
    """``line`` with every long decimal rounded by :func:`figure`."""
    return _LONG_DECIMAL.sub(lambda match: figure(float(match.group())), line)


def render(data: dict[str, Any], indent: int = 0) -> str:
    """A YAML-like rendering of nested dicts (what ``verdi storage info`` prints); floats rounded."""
    lines: list[str] = []
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"{' ' * indent}{key}:")
            lines.append(render(value, indent + 2))
        elif isinstance(value, float):
            lines.append(f"{' ' * indent}{key}: {figure(value)}")
        else:
            lines.append(f"{' ' * indent}{key}: {value}")
    return "\n".join(line for line in lines if line)
