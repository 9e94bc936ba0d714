"""The CLI package: light to import (``fastdos --help`` loads no database or migration code), no import
cycles, ``--version``, and a place for other commands to register."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
from pathlib import Path

import click
from click.testing import CliRunner

from fastdos import __version__
from fastdos.cli import COMMANDS, main

CLI = Path(__file__).resolve().parents[1] / "fastdos" / "cli"

# What the commands need, and `--help` must not pay for.
HEAVY = ("alembic", "sqlalchemy", "psycopg", "psycopg_pool", "disk_objectstore", "orjson")
HEAVY_OWN = ("fastdos.backend", "fastdos.migrator", "fastdos.db", "fastdos.errors", "fastdos.importer")

PROBE = """
import json, sys
from click.testing import CliRunner
from fastdos.cli import main
result = CliRunner().invoke(main, sys.argv[1:])
print(json.dumps({"exit": result.exit_code, "modules": sorted(sys.modules)}))
"""


def loaded_by(*args: str) -> tuple[int, set[str]]:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], check=True, capture_output=True, text=True).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return int(data["exit"]), set(data["modules"])


def test_help_imports_nothing_heavy() -> None:
    for args in (["--help"], ["server", "--help"], ["index", "list", "--help"], ["--version"]):
        code, modules = loaded_by(*args)
        assert code == 0, args
        heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY_OWN)
        assert heavy == [], (args, heavy)


def test_help_is_fast() -> None:
    """Far under the 1.1-1.3 s it took when the CLI imported alembic; the README quotes the measured figure."""
    exe = Path(sys.executable).with_name("fastdos")
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([str(exe), "--help"], check=True, capture_output=True)
        best = min(best, time.perf_counter() - started)
    assert best < 0.6, f"fastdos --help took {best:.2f} s"


def test_version_option() -> None:
    for flag in ("--version", "-V"):
        result = CliRunner().invoke(main, [flag])
        assert result.exit_code == 0
        assert result.output.strip() == f"fastdos {__version__}"


def test_no_module_imports_the_package() -> None:
    """Command modules import `.base`/`.progress`, never `fastdos.cli` itself (that was the old cycle)."""
    for path in CLI.glob("*.py"):
        if path.name in ("__init__.py", "__main__.py"):  # the package itself and `python -m fastdos.cli`
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                target = "." * node.level + (node.module or "")
                names = [alias.name for alias in node.names]
                assert target not in (".", "fastdos.cli"), (path.name, target, names)
            elif isinstance(node, ast.Import):
                assert all(alias.name != "fastdos.cli" for alias in node.names), path.name


def test_every_command_is_registered() -> None:
    registered = set(main.commands)
    assert len(registered) == len(COMMANDS)
    assert {"init", "version", "info", "server", "backup", "restore", "index", "closure"} <= registered


def test_register_adds_a_command() -> None:
    from fastdos.cli import register

    @click.command("hello-test")
    def hello() -> None:
        click.echo("hello")

    try:
        register(hello)
        result = CliRunner().invoke(main, ["hello-test"])
        assert result.exit_code == 0 and result.output == "hello\n"
    finally:
        main.commands.pop("hello-test", None)
