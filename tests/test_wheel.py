"""The built wheel carries sql/ and migrations/: install it into a fresh venv and initialise a storage from it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
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


def copy_sources(tmp_path: Path) -> Path:
    """Build from a copy of the sources: setuptools reuses an in-tree build/ folder, which can hold files
    since deleted from the tree."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("fastdos", "sql", "migrations"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    return source


@pytest.mark.slow
def test_build_prints_no_warning_of_ours(tmp_path: Path) -> None:
    """`python -m build` with Python warnings as errors: setuptools' deprecations (the license table) and its
    "Package 'fastdos.sql.admin' is absent from the `packages` configuration" fail the build."""
    source, dist = copy_sources(tmp_path), tmp_path / "dist"
    command = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--skip-dependency-check"]
    proc = subprocess.run(
        [*command, "-o", str(dist), str(source)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert not [line for line in output.splitlines() if line.startswith("WARNING")], output[-3000:]
    assert "absent from the `packages` configuration" not in output
    (wheel,) = dist.glob("fastdos-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert len([n for n in names if n.endswith(".sql")]) == len(list((ROOT / "sql").rglob("*.sql")))
    assert "fastdos/cli/__init__.py" in names


@pytest.mark.slow
def test_wheel_installs_and_initialises(tmp_path: Path, pg_server: PgServer, empty_db: str) -> None:
    dist = tmp_path / "dist"
    source = copy_sources(tmp_path)
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
    # Folders of sql files are listed too (setuptools warns about each one that is not).
    folders = [d for d in (ROOT / "sql").rglob("*") if d.is_dir() and d.name != "__pycache__"]
    data = {".".join(("fastdos.sql", *d.relative_to(ROOT / "sql").parts)) for d in folders}
    assert data <= listed, f"add {sorted(data - listed)} to [tool.setuptools] packages in pyproject.toml"
