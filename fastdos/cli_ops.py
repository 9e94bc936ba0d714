"""``fastdos`` commands that work on the data of a storage: generate/ingest, delete, integrity, maintain,
backup/restore, index, closure. Registered on :data:`fastdos.cli.main` (this module is imported by it).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from .cli import aiida_option, fail, main, profile_option, render, reported, resolve_profile


@contextmanager
def open_backend(profile_name: str | None, aiida_profile: str | None = None) -> Iterator[Any]:
    """Open the profile's storage for one command (errors reported with verdi's exit codes)."""
    from .backend import Backend

    with reported(), Backend(resolve_profile(profile_name, aiida_profile)) as storage:
        yield storage


class PhaseBars:
    """One click progress bar per stage, fed by ``progress(stage, done, total)`` with cumulative ``done``."""

    def __init__(self) -> None:
        self._phase: str | None = None
        self._bar: Any = None
        self._done = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._phase:
            self.close()
            self._phase, self._done = stage, 0
            self._bar = click.progressbar(length=max(total, 1), label=f"{stage:>12}", show_eta=True, show_pos=True)
            self._bar.__enter__()
        self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        """Finish the current bar."""
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


class CallbackBars:
    """A progress bar driven by disk-objectstore's ``callback(action, value)`` protocol (init/update/close)."""

    def __init__(self) -> None:
        self._bar: Any = None

    def __call__(self, action: str, value: Any) -> None:
        if action == "init":
            self.close()
            self._bar = click.progressbar(length=max(int(value["total"]), 1), label=str(value["description"]))
            self._bar.__enter__()
        elif action == "update" and self._bar is not None:
            self._bar.update(int(value))
        elif action == "close":
            self.close()

    def close(self) -> None:
        """Finish the current bar."""
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


# --- ingest ------------------------------------------------------------------------------------------------


@main.command("generate")
@profile_option
@click.option("--nodes", type=click.IntRange(1), default=100_000, show_default=True, help="Nodes to generate.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--load-mode", is_flag=True, help="Drop and re-create indexes around the load (large initial imports).")
def generate(profile_name: str | None, nodes: int, seed: int, load_mode: bool) -> None:
    """Ingest a generated provenance graph (data and process nodes, links, a group) with COPY."""
    from .generate import ingest_generated

    with open_backend(profile_name) as storage:
        bars = PhaseBars()
        try:
            report = ingest_generated(storage, nodes, progress=bars, seed=seed, load_mode=load_mode)
        finally:
            bars.close()
    click.echo(render({"ingest": report}))


@main.command("import")
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
    from .importer import import_archive

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
        click.echo(line)


# --- graph -------------------------------------------------------------------------------------------------


@main.command("delete")
@profile_option
@click.argument("pks", nargs=-1, type=int, required=True)
@click.option("--dry-run", is_flag=True, help="Only show what would be deleted.")
@click.option("--create-forward/--no-create-forward", default=True, help="Follow create links forward.")
@click.option("--call-calc-forward/--no-call-calc-forward", default=True, help="Follow call_calc links forward.")
@click.option("--call-work-forward/--no-call-work-forward", default=True, help="Follow call_work links forward.")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@click.option("-v", "--verbose", "list_all", is_flag=True, help="List every pk to be deleted.")
def delete(
    profile_name: str | None,
    pks: tuple[int, ...],
    dry_run: bool,
    create_forward: bool,
    call_calc_forward: bool,
    call_work_forward: bool,
    force: bool,
    list_all: bool,
) -> None:
    """Delete nodes and everything AiiDA's deletion rules drag along (``verdi node delete``)."""
    toggles = {
        "create_forward": create_forward,
        "call_calc_forward": call_calc_forward,
        "call_work_forward": call_work_forward,
    }
    with open_backend(profile_name) as storage:
        plan = storage.plan_deletion(pks, **toggles)
        if plan.missing:
            click.echo(f"Skipping {len(plan.missing)} pk(s) that do not exist: {plan.missing[:20]}")
        to_delete = sorted(plan.pks)
        shown = to_delete if list_all else to_delete[:20]
        suffix = "" if len(shown) == len(to_delete) else f" ... (+{len(to_delete) - len(shown)} more; -v lists all)"
        click.echo(f"{len(to_delete)} node(s) to delete: {shown}{suffix}")
        if not to_delete or dry_run:
            click.echo("Dry run: nothing deleted." if dry_run else "Nothing to delete.")
            return
        if not force and not click.confirm("Delete them, with their links, comments and logs?"):
            fail("nothing deleted")
        deleted = storage.delete_nodes(pks, dry_run=False, **toggles)
    click.echo(f"Deleted {len(deleted)} node(s). Their repository objects are reclaimed by `fastdos maintain`.")


@main.command("integrity")
@profile_option
@aiida_option
@click.option("--no-repository", is_flag=True, help="Skip the check of repository keys against the container.")
@click.option("--examples", type=click.IntRange(0), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def integrity(
    profile_name: str | None, aiida_profile: str | None, no_repository: bool, examples: int, as_json: bool
) -> None:
    """Check the provenance graph (duplicate uuids, link rules, repository keys); exit 1 when a check fails."""
    with open_backend(profile_name, aiida_profile) as storage:
        report = storage.check_integrity(examples=examples, repository=not no_repository)
    click.echo(json.dumps(report.as_dict(), indent=2, default=str) if as_json else report.summary())
    if not report.ok:
        sys.exit(1)


# --- maintenance -------------------------------------------------------------------------------------------


@main.command("maintain")
@profile_option
@aiida_option
@click.option("--full", is_flag=True, help="Exclusive maintenance: also repack, clean and VACUUM (ANALYZE).")
@click.option("--no-repack", is_flag=True, help="With --full: skip repacking.")
@click.option("--dry-run", is_flag=True, help="Only report what would be done.")
@click.option("--compress", is_flag=True, help="Compress objects while packing.")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
def maintain(
    profile_name: str | None,
    aiida_profile: str | None,
    full: bool,
    no_repack: bool,
    dry_run: bool,
    compress: bool,
    force: bool,
) -> None:
    """Delete unreferenced objects and maintain the repository (``verdi storage maintain``)."""
    if no_repack and not full:
        raise click.UsageError("--no-repack only applies with --full")
    options: dict[str, Any] = {"compress": compress}
    if no_repack:
        options["do_repack"] = False
    with open_backend(profile_name, aiida_profile) as storage:
        if not (force or dry_run):
            what = "full (exclusive) maintenance" if full else "live maintenance"
            if not click.confirm(f"Run {what} of profile {storage.profile.name!r}?"):
                fail("maintenance aborted, nothing changed")
        bars = CallbackBars()
        try:
            report = storage.maintain(full=full, dry_run=dry_run, callback=bars, **options)
        finally:
            bars.close()
    for line in report.report():
        click.echo(line)


@main.command("backup")
@profile_option
@click.argument("dest", type=click.Path(file_okay=False))
@click.option("--keep", type=click.IntRange(0), default=None, help="Keep this many earlier backups (default all).")
def backup(profile_name: str | None, dest: str, keep: int | None) -> None:
    """Incremental backup (database dump, then container) into DEST/backup_<time>_<id>, DEST/last-backup."""
    with open_backend(profile_name) as storage:
        report = storage.backup(dest, keep=keep)
    for line in report.lines():
        click.echo(line)


@main.command("restore")
@profile_option
@click.argument("src", type=click.Path(exists=True))
def restore(profile_name: str | None, src: str) -> None:
    """Restore a backup folder (or a backup destination's last backup) into an EMPTY profile."""
    from .backend import ensure_server
    from .backup import restore as restore_backup
    from .migrator import ensure_database

    with reported():
        profile = resolve_profile(profile_name)
        ensure_server(profile)
        ensure_database(profile)
        report = restore_backup(src, profile)
    for line in report.lines():
        click.echo(line)


# --- indexes and the closure table -------------------------------------------------------------------------


@main.group("index")
def index() -> None:
    """Expression indexes on attribute/extras keys."""


@index.command("add")
@profile_option
@click.argument("path")
@click.option("--where", default=None, help="Partial index: a node_type prefix such as 'process.'.")
def index_add(profile_name: str | None, path: str, where: str | None) -> None:
    """Create an expression index for PATH (e.g. attributes.process_state)."""
    from .query import add_index

    with open_backend(profile_name) as storage:
        click.echo(f"created {add_index(storage, path, where=where)}")


@index.command("list")
@profile_option
@click.option("--json", "as_json", is_flag=True)
def index_list(profile_name: str | None, as_json: bool) -> None:
    """List the expression indexes fastdos created, with size and use."""
    from .query import list_indexes

    with open_backend(profile_name) as storage:
        infos = [dataclasses.asdict(info) for info in list_indexes(storage)]
    if as_json:
        click.echo(json.dumps(infos, indent=2))
        return
    for info in infos:
        size = info['size_bytes'] / 1024**2
        click.echo(f"{info['name']}  {size:.2f} MB  scans={info['scans']}  {info['definition']}")


@index.command("drop")
@profile_option
@click.argument("name")
def index_drop(profile_name: str | None, name: str) -> None:
    """Drop an expression index fastdos created."""
    from .query import drop_index

    with open_backend(profile_name) as storage:
        drop_index(storage, name)
    click.echo(f"dropped {name}")


@index.command("install-process")
@profile_option
def index_install_process(profile_name: str | None) -> None:
    """Install the indexes for AiiDA's hot process keys (process_state, process_label, exit_status, sealed)."""
    from .query import install_process_indexes

    with open_backend(profile_name) as storage:
        install_process_indexes(storage)
    click.echo("process indexes installed")


@main.group("closure")
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
