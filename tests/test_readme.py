"""The README's Quick start runs as written, on a fresh FASTDOS_HOME (its own embedded cluster)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _quick_start_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Quick start") : text.index("\n## ", text.index("## Quick start") + 1)]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def test_the_quick_start_has_code() -> None:
    blocks = _quick_start_blocks()
    assert blocks and "Backend.initialise" in blocks[0]


@pytest.mark.slow
def test_the_quick_start_runs_as_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTDOS_")}
    env["FASTDOS_HOME"] = str(home)
    script = "\n".join(_quick_start_blocks())
    try:
        result = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert "1000 nodes stored; 9 with value > 990" in result.stdout
        assert "'count': 1000" in result.stdout
    finally:
        subprocess.run(
            [sys.executable, "-m", "fastdos.cli", "server", "stop", "--force"],
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
