"""``make run``: the main job on a fresh machine, on the embedded PostgreSQL, repeatable.

Works on its own profile, ``demo`` (database ``fastdos_demo`` in fastdos' cluster under ``$FASTDOS_HOME``,
default ``~/.fastdos``; repository ``$FASTDOS_HOME/profiles/demo/repository``), which it resets at the start,
so every run shows the same thing. It starts the cluster (initdb on first use), imports the bundled sample
AiiDA archive, ingests a generated provenance graph with progress, prints the storage info, and ends by
saying what it leaves behind: where the data is, that the server still runs, and the command that stops it.

The raw-COPY comparison that used to follow the ingest (10 s, 384 MB peak for 10^5 nodes, all of it rolled
back) is gone from the demo; its figures are in ``bench/`` (``make bench``, ``bench/test_ingest.py``).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
from pathlib import Path

import click

from .admin import checkpoint, drop_database
from .backend import Backend
from .cli.base import render
from .errors import ConfigurationError, FastdosError
from .profile import Profile, fastdos_home, load_profile, save_profile, saved_profile_names
from .server import EmbeddedServer

DEMO_PROFILE = "demo"

# The sample archive lives with the test data of a source checkout (make run runs from one).
SAMPLE_ARCHIVE = Path(__file__).resolve().parents[1] / "tests" / "data" / "archives" / "sample.aiida"


def main(argv: list[str] | None = None) -> None:
    """Run the demo; ``--nodes`` sets the size of the generated graph."""
    parser = argparse.ArgumentParser(prog="python -m fastdos.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=100_000, help="nodes in the generated graph (default 1e5)")
    args = parser.parse_args(argv)
    if args.nodes < 1:
        parser.error("--nodes must be at least 1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        run(args.nodes)
    except (FastdosError, OSError) as exc:
        click.secho(f"Error: {str(exc).strip().splitlines()[0]}", fg="red", err=True)
        sys.exit(1)


def demo_profile() -> Profile:
    """The embedded ``demo`` profile; refuses a saved profile of that name that lives somewhere else."""
    profile = Profile.embedded_profile(DEMO_PROFILE)
    if DEMO_PROFILE in saved_profile_names():
        saved = load_profile(DEMO_PROFILE)
        if (saved.storage_config, saved.embedded) != (profile.storage_config, profile.embedded):
            raise ConfigurationError(
                f"a profile named {DEMO_PROFILE!r} already exists and is not the demo's own (it is reset at every "
                "run); rename it in $FASTDOS_HOME/config.json or run the demo with another FASTDOS_HOME"
            )
        profile.uuid = saved.uuid
    return profile


def run(n_nodes: int) -> None:
    """Reset the demo profile, load the sample and a generated graph, print what was made and left."""
    profile = demo_profile()
    assert profile.embedded is not None
    started = time.perf_counter()
    server = EmbeddedServer(profile.embedded.data_dir, port=profile.embedded.port, tcp=profile.embedded.tcp)
    server.start()
    reset(profile, server)
    Backend.initialise(profile)
    save_profile(profile)
    click.echo(f"storage {profile.name!r} reset and initialised in {time.perf_counter() - started:.1f} s")
    with Backend(profile) as storage:
        click.echo(str(storage))
        if SAMPLE_ARCHIVE.exists():
            run_import(storage)
        run_ingest(storage, n_nodes)
        click.echo(render(storage.get_info(detailed=True)))
    checkpoint(server.conninfo())
    for line in left_behind(profile, server):
        click.echo(line)


def reset(profile: Profile, server: EmbeddedServer) -> None:
    """Drop the demo's database and repository (nothing else: they are the demo's own)."""
    drop_database(server.conninfo(), str(profile.storage_config["database_name"]))
    shutil.rmtree(profile.repository_path, ignore_errors=True)


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
    """Ingest a generated provenance graph with progress; print counts, seconds and rows/s."""
    from .cli.progress import PhaseBars
    from .generate import ingest_generated

    progress = PhaseBars()
    try:
        report = ingest_generated(storage, n_nodes, progress=progress)
    finally:
        progress.close()
    click.echo(render({"ingest": report}))


def fastdos_command() -> str:
    """How to call ``fastdos`` from this environment (the venv's script when it is not on PATH)."""
    script = Path(sys.executable).with_name("fastdos")
    on_path = shutil.which("fastdos")
    command = "fastdos" if on_path and Path(on_path).resolve() == script.resolve() else str(script)
    if not script.exists():
        command = f"{sys.executable} -m fastdos.cli"
    if os.environ.get("FASTDOS_HOME"):
        command = f"FASTDOS_HOME={fastdos_home()} {command}"
    return command


def left_behind(profile: Profile, server: EmbeddedServer) -> list[str]:
    """What the demo leaves: the data, the running server, and the commands to look at and stop them."""
    status = server.status()
    fastdos = fastdos_command()
    where = str(server.requested_dir)
    if server.data_dir != server.requested_dir:
        where += f" (a link to {server.data_dir})"
    return [
        "",
        "Left behind:",
        f"  data: database {profile.storage_config['database_name']!r} of the PostgreSQL cluster in {where},",
        f"        repository {profile.repository_path}; the next `make run` resets both",
        f"  the PostgreSQL server is still running (pid {status.pid}); stop it with:",
        f"    {fastdos} server stop",
        f"  look at the data again with: {fastdos} info --profile {profile.name}",
    ]


if __name__ == "__main__":
    main()
