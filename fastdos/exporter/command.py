"""``fastdos export``: the click command of the archive export (registered on the ``fastdos`` group by the CLI).

The options follow ``verdi archive create``: ``-N/--nodes``, ``-G/--groups`` and ``-X/--computers`` take one
or more values each (``-N 1 2 3``), ``--all`` exports everything, and the toggleable EXPORT traversal rules
are ``--input-calc-forward/--no-input-calc-forward`` and so on, with aiida-core's defaults. The export module
is imported inside the command, so ``fastdos --help`` stays fast. Every failure is one line on stderr and a
non-zero exit status; no file is left at the destination.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from .. import rules as rulesets

# The options that take several values after one flag (verdi's multi-value options).
MULTI_VALUE = {"-N": "-N", "--nodes": "-N", "-G": "-G", "--groups": "-G", "-X": "-X", "--computers": "-X"}
# Exit statuses as fastdos' other commands use them (verdi's): unreachable storage, incompatible schema.
EXIT_FAILED, EXIT_UNREACHABLE, EXIT_INCOMPATIBLE = 1, 3, 4


class MultiValueCommand(click.Command):
    """Lets ``-N 1 2 3`` mean ``-N 1 -N 2 -N 3``: values are taken until the next option (or ``--``).

    Node pks are integers, so ``-N`` also stops at the first value that is not one (the output path may
    follow the pks); group and computer labels can be anything, so give the path before ``-G``/``-X``.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rewritten: list[str] = []
        flag: str | None = None
        for arg in args:
            if arg in MULTI_VALUE:
                flag = MULTI_VALUE[arg]
                continue
            if arg.startswith("-") or arg == "--" or (flag == "-N" and not arg.isdigit()):
                flag = None
            if flag is not None:
                rewritten += [flag, arg]
            else:
                rewritten.append(arg)
        return super().parse_args(ctx, rewritten)


class StageBars:
    """One progress bar per stage on stderr (only on a terminal), fed by ``progress(stage, done, total)``."""

    def __init__(self) -> None:
        self._stage: str | None = None
        self._bar: Any = None
        self._done = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not sys.stderr.isatty():
            return
        if stage != self._stage:
            self.close()
            self._stage, self._done = stage, 0
            self._bar = click.progressbar(length=max(total, 1), label=f"{stage:>12}", file=sys.stderr)
            self._bar.__enter__()
        self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        """Finish the current bar."""
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def _rule_options(command: Any) -> Any:
    """``--<rule>/--no-<rule>`` for every toggleable EXPORT rule, with aiida-core's default."""
    for rule in reversed(rulesets.EXPORT.rules):
        if rule.toggleable:
            flag = rule.name.replace("_", "-")
            direction = "forward" if rule.forward else "backward"
            command = click.option(
                f"--{flag}/--no-{flag}",
                rule.name,
                default=rule.default,
                show_default=True,
                help=f"Follow {rule.link_type} links {direction} when expanding the node set.",
            )(command)
    return command


@contextmanager
def _reported() -> Iterator[None]:
    """fastdos errors and bad values as one line on stderr with a non-zero exit status, never a traceback."""
    from ..errors import CorruptStorage, FastdosError, IncompatibleStorageSchema, UnreachableStorage

    try:
        yield
    except IncompatibleStorageSchema as exc:
        _fail(str(exc), EXIT_INCOMPATIBLE)
    except (CorruptStorage, UnreachableStorage) as exc:
        _fail(str(exc), EXIT_UNREACHABLE)
    except (FastdosError, ValueError, TypeError, KeyError, OSError) as exc:
        _fail(str(exc))


def _fail(message: str, code: int = EXIT_FAILED) -> None:
    click.secho(f"Error: {' '.join(message.split())}", fg="red", err=True)
    sys.exit(code)


@click.command("export", cls=MultiValueCommand)
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("-p", "--profile", "profile_name", help="Profile name (default: the default profile).")
@click.option("--aiida", "aiida_profile", default=None, help="Use this profile of AiiDA's config.json instead.")
@click.option("-N", "--nodes", "nodes", multiple=True, type=int, help="Node pks to export (with their provenance).")
@click.option("-G", "--groups", "groups", multiple=True, help="Groups (pk, uuid or label) to export, with their nodes.")
@click.option("-X", "--computers", "computers", multiple=True, help="Computers (pk, uuid or label) to export.")
@click.option("-a", "--all", "everything", is_flag=True, help="Export everything in the storage.")
@click.option("--no-comments", is_flag=True, help="Leave out the comments of the exported nodes.")
@click.option("--no-logs", is_flag=True, help="Leave out the logs of the exported nodes.")
@click.option("--include-authinfos", is_flag=True, help="Export the authinfos of the exported computers.")
@click.option("-f", "--overwrite", is_flag=True, help="Replace the file at PATH if it exists.")
@click.option("-n", "--dry-run", is_flag=True, help="Compute and report what would be exported; write nothing.")
@click.option("--compression", type=click.IntRange(0, 9), default=6, show_default=True, help="zlib level (0-9).")
@_rule_options
def export_command(
    path: str,
    profile_name: str | None,
    aiida_profile: str | None,
    nodes: tuple[int, ...],
    groups: tuple[str, ...],
    computers: tuple[str, ...],
    everything: bool,
    no_comments: bool,
    no_logs: bool,
    include_authinfos: bool,
    overwrite: bool,
    dry_run: bool,
    compression: int,
    **rules: bool,
) -> None:
    """Write an AiiDA archive (.aiida, format main_0001) of nodes, groups and computers, or of everything.

    The node set is aiida-core's: the given nodes and the nodes of the given groups, expanded by the EXPORT
    traversal rules; then their computers, comments, logs and users. aiida-core's `verdi archive import`
    and fastdos' `import` read the file.
    """
    from ..backend import Backend
    from ..profile import Profile, load_profile
    from . import export_archive

    def pk_or_text(value: str) -> int | str:
        return int(value) if value.isdigit() else value

    toggles: dict[str, Any] = {name: value for name, value in rules.items() if value != _default(name)}
    bars = StageBars()
    with _reported():
        profile = Profile.from_aiida(aiida_profile or None) if aiida_profile is not None else load_profile(profile_name)
        with Backend(profile) as storage:
            try:
                report = export_archive(
                    storage,
                    path,
                    nodes=list(nodes),
                    groups=[pk_or_text(g) for g in groups],
                    computers=[pk_or_text(c) for c in computers],
                    all=everything,
                    include_comments=not no_comments,
                    include_logs=not no_logs,
                    include_authinfos=include_authinfos,
                    overwrite=overwrite,
                    compression=compression,
                    dry_run=dry_run,
                    progress=bars,
                    **toggles,
                )
            finally:
                bars.close()
    for line in report.lines():
        click.echo(line)


def _default(name: str) -> bool:
    return rulesets.EXPORT.by_name()[name].default
