#!/usr/bin/env bash
# Create the aiida-core reference environment `.venv-aiida` at the repository root (idempotent).
#
# aiida-core 2.9.4 cannot share `.venv` with fastdos (it pins click<8.3 and pytz~=2021.1), so the interop
# tests and the sample-archive generator run it in its own venv through subprocesses. The stamp file
# `.venv-aiida/.installed` holds the sha256 of requirements.txt: a changed pin list rebuilds the venv, an
# unchanged one makes this script a no-op. A failed install leaves no stamp, so the next run retries.
#
# fastdos itself is installed there too, editable, with its `aiida` extra and requirements.txt as constraints:
# the storage plugin (fastdos/aiida/) is what aiida-core loads for a `fastdos` profile, and an install that
# cannot resolve against aiida-core's pins fails here. Its own stamp (`.venv-aiida/.fastdos-installed`, the
# sha256 of pyproject.toml) reinstalls it after a change of pyproject.toml without rebuilding the venv.
#
# Usage: tests/aiida/setup_env.sh        (PYTHON=python3.11 to choose the interpreter)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/.venv-aiida"
requirements="$here/requirements.txt"
stamp="$venv/.installed"
fastdos_stamp="$venv/.fastdos-installed"
python="${PYTHON:-python3}"

install_fastdos() {
    local wanted_fastdos
    wanted_fastdos="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)"
    if [[ -f "$fastdos_stamp" && "$(cat "$fastdos_stamp")" == "$wanted_fastdos" ]]; then
        return 0
    fi
    rm -f "$fastdos_stamp"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c "$requirements" -e "$root[aiida]"
    AIIDA_PATH="$venv" "$venv/bin/python" -W ignore -c "from aiida.plugins import StorageFactory; \
from aiida.storage.psql_dos import PsqlDosBackend; cls = StorageFactory('fastdos'); \
assert issubclass(cls, PsqlDosBackend), cls"
    echo "$wanted_fastdos" > "$fastdos_stamp"
}

wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" && -x "$venv/bin/python" ]]; then
    install_fastdos
    touch "$stamp"  # up to date: refresh the mtime so make's `.venv-aiida/.installed` rule settles too
    exit 0
fi

rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
# Fail here, not in the middle of a test run, when the environment cannot import what the tests use.
# (AIIDA_PATH keeps aiida from creating ~/.aiida on import.)
AIIDA_PATH="$venv" "$venv/bin/python" -W ignore -c "import aiida, aiida.storage.psql_dos, aiida.storage.sqlite_dos, aiida.tools.archive; \
assert aiida.__version__ == '2.9.4', aiida.__version__"
echo "$wanted" > "$stamp"
install_fastdos
