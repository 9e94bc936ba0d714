"""``fastdos maintain|backup|restore``: keeping a storage and copies of it."""

from __future__ import annotations

from typing import Any

import click

from .base import aiida_option, fail, open_backend, profile_option, reported, rounded
from .progress import CallbackBars


@click.command("maintain")
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
    if dry_run:
        what = "full (exclusive) maintenance" if full else "live maintenance"
        click.echo(f"Dry run: nothing was changed. {what.capitalize()} of profile {storage.profile.name!r} would do:")
    for line in report.report():
        click.echo(f"  {rounded(line)}" if dry_run else rounded(line))


@click.command("backup")
@profile_option
@click.argument("dest", type=click.Path(file_okay=False))
@click.option("--keep", type=click.IntRange(0), default=None, help="Keep this many earlier backups (default all).")
def backup(profile_name: str | None, dest: str, keep: int | None) -> None:
    """Incremental backup (database dump, then container) into DEST/backup_<time>_<id>, DEST/last-backup."""
    with open_backend(profile_name) as storage:
        report = storage.backup(dest, keep=keep)
    for line in report.lines():
        click.echo(rounded(line))


@click.command("restore")
@profile_option
@click.argument("src", type=click.Path(exists=True))
@click.option("--dsn", help="For a new profile: libpq DSN of an existing server/database (default: embedded).")
@click.option(
    "--repository", type=click.Path(file_okay=False), help="For a new profile: repository folder (with --dsn)."
)
def restore(profile_name: str | None, src: str, dsn: str | None, repository: str | None) -> None:
    """Restore a backup folder (or a backup destination's last backup) into an EMPTY profile.

    A profile that does not exist yet is created, like `fastdos init` does: on the embedded cluster, or on
    --dsn with --repository; it is saved only when the restore succeeded.
    """
    from .. import profile as profiles
    from ..backup import restore as restore_backup
    from .storage import new_or_saved_profile, prepare_storage

    with reported():
        name = profile_name or profiles.DEFAULT_PROFILE_NAME
        existing = name in profiles.saved_profile_names()
        if existing and (dsn or repository):
            raise click.UsageError(f"profile {name!r} exists; --dsn/--repository only describe a new profile")
        profile = new_or_saved_profile(name, dsn, repository)
        prepare_storage(profile)
        report = restore_backup(src, profile)
        if not existing:
            path = profiles.save_profile(profile)
            click.echo(f"created profile {profile.name!r} ({path})")
    for line in report.lines():
        click.echo(rounded(line))
