"""``make run``: the main job on a fresh machine, on the embedded PostgreSQL.

Starts fastdos' own cluster (initdb on first use), initialises the default storage under ``$FASTDOS_HOME``
(default ``~/.fastdos``), imports the bundled sample AiiDA archive, ingests a generated provenance graph with
a progress bar and prints its rate beside the raw COPY rate of the same server, then prints the storage info.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import click

from .backend import Backend, ensure_server
from .cli.base import render
from .migrator import ensure_database
from .profile import load_profile, save_profile

# The sample archive lives with the test data of a source checkout (make run runs from one).
SAMPLE_ARCHIVE = Path(__file__).resolve().parents[1] / "tests" / "data" / "archives" / "sample.aiida"


def main(argv: list[str] | None = None) -> None:
    """Run the demo; ``--nodes`` sets the size of the generated graph."""
    parser = argparse.ArgumentParser(prog="python -m fastdos.demo", description=__doc__)
    parser.add_argument("--nodes", type=int, default=100_000, help="nodes in the generated graph (default 1e5)")
    parser.add_argument("--profile", default=None, help="profile name (default: the embedded default profile)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    profile = load_profile(args.profile)
    started = time.perf_counter()
    ensure_server(profile)
    ensure_database(profile)
    created = Backend.initialise(profile)
    save_profile(profile)
    click.echo(
        f"storage {profile.name!r} {'initialised' if created else 'ready'} in {time.perf_counter() - started:.1f} s"
    )
    with Backend(profile) as storage:
        click.echo(str(storage))
        if SAMPLE_ARCHIVE.exists():
            run_import(storage)
        run_ingest(storage, args.nodes)
        click.echo(render(storage.get_info(detailed=True)))


def run_import(storage: Backend) -> None:
    """Import the sample AiiDA archive that aiida-core 2.9.4 made (tests/data/archives/make_sample_archive.py)."""
    from .cli.progress import PhaseBars
    from .importer import import_archive

    click.echo(f"importing {SAMPLE_ARCHIVE.name} (made by aiida-core 2.9.4)")
    progress = PhaseBars()
    try:
        report = import_archive(storage, SAMPLE_ARCHIVE, progress=progress)
    finally:
        progress.close()
    for line in report.lines():
        click.echo(line)


def run_ingest(storage: Backend, n_nodes: int) -> None:
    """Ingest a generated provenance graph with progress bars; print rows/s beside the raw COPY rate."""
    from .cli.progress import PhaseBars
    from .generate import ingest_generated, raw_copy_rate

    progress = PhaseBars()
    try:
        report = ingest_generated(storage, n_nodes, progress=progress)
    finally:
        progress.close()
    click.echo(render({"ingest": report}))
    raw = raw_copy_rate(storage, min(n_nodes, 100_000))
    click.echo(render({"raw COPY of pre-serialised node rows (same server, rolled back)": raw}))


if __name__ == "__main__":
    main()
