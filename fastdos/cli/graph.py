"""``fastdos delete|integrity``: the provenance graph."""

from __future__ import annotations

import json
import sys

import click

from .base import aiida_option, fail, open_backend, profile_option, quieter


@click.command("delete")
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
    # The plan's own "skipping ... do not exist" warning would repeat the line printed below.
    with open_backend(profile_name) as storage, quieter("fastdos.graph"):
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


@click.command("integrity")
@profile_option
@aiida_option
@click.option("--no-repository", is_flag=True, help="Skip the check of repository keys against the container.")
@click.option(
    "--examples", type=click.IntRange(0), default=10, show_default=True, help="Offending rows shown per failed check."
)
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
