"""``fastdos index ...`` and ``fastdos closure ...``: what makes queries fast."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import click

from .base import figure, open_backend, profile_option, render


@click.group("index")
def index() -> None:
    """Expression indexes on attribute/extras keys."""


@index.command("add")
@profile_option
@click.argument("path")
@click.option("--where", default=None, help="Partial index: a node_type prefix such as 'process.'.")
def index_add(profile_name: str | None, path: str, where: str | None) -> None:
    """Create an expression index for PATH (e.g. attributes.process_state)."""
    from ..query import add_index

    with open_backend(profile_name) as storage:
        click.echo(f"created {add_index(storage, path, where=where)}")


@index.command("list")
@profile_option
@click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON list of {name, definition, size_bytes, scans} (empty: [])."
)
def index_list(profile_name: str | None, as_json: bool) -> None:
    """List the expression indexes fastdos created, with size and use."""
    from ..query import list_indexes

    with open_backend(profile_name) as storage:
        infos = [dataclasses.asdict(info) for info in list_indexes(storage)]
    if as_json:
        click.echo(json.dumps(infos, indent=2))
        return
    if not infos:
        click.echo("no expression indexes (`fastdos index add PATH` creates one)")
        return
    for info in infos:
        size = info["size_bytes"] / 1024**2
        click.echo(f"{info['name']}  {figure(size)} MB  scans={info['scans']}  {info['definition']}")


@index.command("drop")
@profile_option
@click.argument("name")
def index_drop(profile_name: str | None, name: str) -> None:
    """Drop an expression index fastdos created."""
    from ..query import drop_index

    with open_backend(profile_name) as storage:
        drop_index(storage, name)
    click.echo(f"dropped {name}")


@index.command("install-process")
@profile_option
def index_install_process(profile_name: str | None) -> None:
    """Install the indexes for AiiDA's hot process keys (process_state, process_label, exit_status, sealed)."""
    from ..query import install_process_indexes

    with open_backend(profile_name) as storage:
        install_process_indexes(storage)
    click.echo("process indexes installed")


@click.group("closure")
def closure() -> None:
    """The opt-in transitive-closure table for ancestors/descendants."""


@closure.command("install")
@profile_option
def closure_install(profile_name: str | None) -> None:
    """Install the closure table (fastdos' own migration) and build it."""
    with open_backend(profile_name) as storage:
        storage.install_closure()
        report = storage.refresh_closure()
    click.echo(render({"closure": dataclasses.asdict(report)}))


@closure.command("refresh")
@profile_option
@click.option("--rebuild", is_flag=True, help="Rebuild from scratch instead of folding in new links.")
@click.option("--row-budget", type=click.IntRange(1), default=None, help="Refuse a rebuild estimated above this.")
def closure_refresh(profile_name: str | None, rebuild: bool, row_budget: int | None) -> None:
    """Fold links added since the last refresh into the closure (or rebuild it)."""
    with open_backend(profile_name) as storage:
        kwargs: dict[str, Any] = {"force_rebuild": rebuild}
        if row_budget is not None:
            kwargs["row_budget"] = row_budget
        report = storage.refresh_closure(**kwargs)
    click.echo(render({"closure": dataclasses.asdict(report)}))


@closure.command("status")
@profile_option
def closure_status(profile_name: str | None) -> None:
    """Show whether the closure table is installed and current."""
    with open_backend(profile_name) as storage:
        state = storage.closure_state()
    click.echo(render({"closure": {**dataclasses.asdict(state), "current": state.current}}))
