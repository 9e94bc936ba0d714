"""``fastdos generate|import``: bulk loads."""

from __future__ import annotations

import click

from .base import open_backend, profile_option, render, rounded
from .progress import PhaseBars


@click.command("generate")
@profile_option
@click.option("--nodes", type=click.IntRange(1), default=100_000, show_default=True, help="Nodes to generate.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generated values.")
@click.option("--load-mode", is_flag=True, help="Drop and re-create indexes around the load (large initial imports).")
def generate(profile_name: str | None, nodes: int, seed: int, load_mode: bool) -> None:
    """Ingest a generated provenance graph (data and process nodes, links, a group) with COPY."""
    from ..generate import ingest_generated

    with open_backend(profile_name) as storage:
        bars = PhaseBars()
        try:
            report = ingest_generated(storage, nodes, progress=bars, seed=seed, load_mode=load_mode)
        finally:
            bars.close()
    click.echo(render({"ingest": report}))


@click.command("import")
@profile_option
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Do all the work and checks, then roll back; write no objects.")
@click.option("--no-import-group", is_flag=True, help="Do not create the `core.import` group of imported nodes.")
@click.option("--group", "group_label", default=None, help="Add the imported nodes to this group (created if new).")
@click.option("--include-authinfos", is_flag=True, help="Also import authinfos.")
def import_(
    profile_name: str | None,
    archive: str,
    dry_run: bool,
    no_import_group: bool,
    group_label: str | None,
    include_authinfos: bool,
) -> None:
    """Import an AiiDA archive (.aiida, version main_0001) in one transaction, at COPY speed."""
    from ..importer import import_archive

    with open_backend(profile_name) as storage:
        bars = PhaseBars()
        try:
            report = import_archive(
                storage,
                archive,
                import_group=not no_import_group,
                group_label=group_label,
                include_authinfos=include_authinfos,
                dry_run=dry_run,
                progress=bars,
            )
        finally:
            bars.close()
    for line in report.lines():
        click.echo(rounded(line))
