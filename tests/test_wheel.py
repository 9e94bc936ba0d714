"""The built wheel carries sql/ and migrations/: install it into a fresh venv and initialise a storage from it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from tests.conftest import PgServer

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import fastdos
    from fastdos import Backend, Profile, queries
    profile = Profile.from_dsn("wheel", sys.argv[1], sys.argv[2])
    created = Backend.initialise(profile)
    with Backend(profile) as storage:
        info = storage.get_info()
        storage.install_closure()  # fastdos' own alembic environment ships too
    print(json.dumps({"file": fastdos.__file__, "created": created, "queries": len(queries.registry()),
                      "nodes": info["entities"]["Nodes"]["count"]}))
    """
)


@pytest.mark.slow
def test_wheel_installs_and_initialises(tmp_path: Path, pg_server: PgServer, empty_db: str) -> None:
    dist = tmp_path / "dist"
    # Build from a copy of the sources: setuptools reuses an in-tree build/ folder, which can hold files
    # since deleted from the tree.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("fastdos", "sql", "migrations"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)],
        check=True,
        capture_output=True,
    )
    wheels = list(dist.glob("fastdos-*.whl"))
    assert len(wheels) == 1
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheels[0])],
        check=True,
        capture_output=True,
    )
    # Dependencies come from the development venv, but NOT its editable fastdos: a plain path entry in a
    # .pth file does not run the editable finder, so `import fastdos` can only find the wheel's copy.
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "dev_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    result = subprocess.run(
        [str(python), "-c", SCRIPT, pg_server.conninfo(empty_db), str(tmp_path / "repo")],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["file"].startswith(str(venv)), report
    assert report["created"] is True
    assert report["queries"] == len(list((ROOT / "sql").rglob("*.sql")))
    assert report["nodes"] == 0


def test_every_package_is_listed() -> None:
    """A Python package folder missing from pyproject's explicit list would silently drop out of the wheel."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    roots = {"fastdos": ROOT / "fastdos", "fastdos.sql": ROOT / "sql", "fastdos.migrations": ROOT / "migrations"}
    found = set()
    for prefix, folder in roots.items():
        for init in folder.rglob("__init__.py"):
            relative = init.parent.relative_to(folder).parts
            found.add(".".join((prefix, *relative)))
    assert found <= listed, sorted(found - listed)
