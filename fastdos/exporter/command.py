"""``fastdos export``: the click command of the archive export (registered on the ``fastdos`` group by the CLI).

The options follow ``verdi archive create``: ``-N/--nodes``, ``-G/--groups`` and ``-X/--computers`` take one
or more values each (``-N 1 2 3``), ``--all`` exports everything, and the toggleable EXPORT traversal rules
are ``--input-calc-forward/--no-input-calc-forward`` and so on, with aiida-core's defaults. The export module
and the CLI's helpers (``fastdos.cli.base``: profile, errors; ``fastdos.cli.progress``: bars) are imported
inside the command, so ``fastdos --help`` stays fast. Every failure is one line on stderr and a non-zero exit
status (verdi's codes); no file is left at the destination.
"""

from __future__ import annotations

from typing import Any

import click

# The toggleable rules of aiida-core's EXPORT set and their defaults (fastdos/rules.py EXPORT; a test holds the
# two equal). Spelled out here because fastdos.rules imports fastdos.errors, which `fastdos --help` must not.
TOGGLES: tuple[tuple[str, str, bool], ...] = (
    ("input_calc_forward", "input_calc links forward", False),
    ("create_backward", "create links backward", True),
    ("return_backward", "return links backward", False),
    ("input_work_forward", "input_work links forward", False),
    ("call_calc_backward", "call_calc links backward", True),
    ("call_work_backward", "call_work links backward", True),
)
# The options that take several values after one flag (verdi's multi-value options).
MULTI_VALUE = {"-N": "-N", "--nodes": "-N", "-G": "-G", "--groups": "-G", "-X": "-X", "--computers": "-X"}


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


def _rule_options(command: Any) -> Any:
    """``--<rule>/--no-<rule>`` for every toggleable EXPORT rule, with aiida-core's default."""
    for name, what, default in reversed(TOGGLES):
        flag = name.replace("_", "-")
        command = click.option(
            f"--{flag}/--no-{flag}",
            name,
            default=default,
            show_default=True,
            help=f"Follow {what} when expanding the node set.",
        )(command)
    return command


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
    # The CLI's own helpers, imported here: fastdos.cli imports this module when it registers the command.
    from ..cli.base import open_backend
    from ..cli.progress import PhaseBars
    from . import export_archive

    def pk_or_text(value: str) -> int | str:
        return int(value) if value.isdigit() else value

    defaults = {name: default for name, _, default in TOGGLES}
    toggles: dict[str, Any] = {name: value for name, value in rules.items() if value != defaults[name]}
    bars = PhaseBars()
    with open_backend(profile_name, aiida_profile) as storage:
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
