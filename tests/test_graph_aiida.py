"""fastdos' graph operations against aiida-core 2.9.4 on the same database (issue 6).

(a) The deletion set fastdos computes equals the set of aiida-core's ``delete_nodes(..., dry_run=True)`` on
graphs with every link type (cycles through return and call links included), for every combination of the
three toggleable rules. (b) aiida-core keeps working on a storage with fastdos' closure table installed: its
node deletion, ``_clear()`` and storage validation succeed, and fastdos notices aiida's deletion (the closure
stops being current, a refresh rebuilds it).

aiida-core runs in ``.venv-aiida`` through ``tests/aiida/graph_ops.py`` in a subprocess (see
tests/test_aiida_interop.py for the storage-config translation).
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import psycopg
import pytest

from fastdos import rules
from fastdos.backend import Backend
from fastdos.profile import Profile
from tests.test_aiida_interop import run_aiida_script
from tests.test_graph import build, random_provenance, reference_bfs

ROOT = Path(__file__).resolve().parent.parent
AIIDA_PYTHON = ROOT / ".venv-aiida" / "bin" / "python"
SCRIPT = ROOT / "tests" / "aiida" / "graph_ops.py"
TIMEOUT = 600  # aiida's hop-by-hop deletion of a few hundred nodes takes seconds; this only catches a hang

pytestmark = [
    pytest.mark.aiida,
    pytest.mark.skipif(
        not AIIDA_PYTHON.exists(),
        reason=f"aiida-core reference venv missing ({AIIDA_PYTHON}); create it with tests/aiida/setup_env.sh",
    ),
]

TOGGLES = ("create_forward", "call_calc_forward", "call_work_forward")


def run_graph_op(op: str, profile: Profile, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    """Run ``tests/aiida/graph_ops.py`` operation ``op`` on ``profile``'s storage; its JSON result."""
    run = run_aiida_script(
        SCRIPT, {"op": op, "name": profile.name, **extra}, profile, tmp_path / "aiida-home", timeout=TIMEOUT
    )
    if run.returncode != 0 or run.result is None:
        pytest.fail(f"aiida graph op {op!r} failed (exit {run.returncode}):\n{run.stdout[-2000:]}\n"
                    f"{run.stderr[-6000:]}")
    result: dict[str, Any] = run.result
    return result


def every_toggle_combination() -> list[dict[str, bool]]:
    return [dict(zip(TOGGLES, values, strict=True)) for values in itertools.product([True, False], repeat=3)]


def cycles_graph() -> tuple[list[str], list[tuple[int, int, str]]]:
    """Every link type once or more, with undirected cycles through return and call links: a work chain W
    calls a calc C and a sub-workflow W2 that calls C2; C creates o, which W also returns; W2 returns C2's
    output o2, which is an input of C (input_calc) and of W2 (input_work)."""
    kinds = ["data", "work", "calc", "data", "work", "calc", "data", "data"]
    d, w, c, o, w2, c2, o2, d2 = range(8)
    links = [
        (d, w, "input_work"), (w, c, "call_calc"), (d, c, "input_calc"), (c, o, "create"), (w, o, "return"),
        (w, w2, "call_work"), (d2, w2, "input_work"), (w2, c2, "call_calc"), (d2, c2, "input_calc"),
        (c2, o2, "create"), (w2, o2, "return"), (o2, c, "input_calc"), (w, o2, "return"),
    ]  # fmt: skip
    return kinds, links


def test_deletion_set_equals_aiida(profile: Profile, backend: Backend, conn: psycopg.Connection,
                                   tmp_path: Path) -> None:
    """One database holding the hand-made cycle graph and random provenance graphs; every start node of
    several kinds, under each of the 8 toggle combinations: fastdos' set == aiida's dry-run set."""
    rng = random.Random(6)
    graphs = [cycles_graph()] + [random_provenance(rng, rng.randrange(10, 40)) for _ in range(6)]
    starts: list[list[int]] = []
    for kinds, spec in graphs:
        ids, links = build(conn, kinds, spec)
        assert {t for _, _, t in links} <= set(rules.LINK_TYPES)
        starts += [[i] for i in rng.sample(ids, min(4, len(ids)))] + [rng.sample(ids, min(3, len(ids)))]
    assert {t for (t,) in conn.execute("SELECT DISTINCT type FROM db_dblink").fetchall()} == set(rules.LINK_TYPES)
    starts.append([999_999, starts[0][0]])  # a missing pk: both skip it
    requests = [{"pks": s, "rules": toggles} for s in starts for toggles in every_toggle_combination()]
    expected = run_graph_op("delete", profile, tmp_path, requests=requests)["results"]
    mismatches = []
    for request, aiida_pks in zip(requests, expected, strict=True):
        ours = backend.delete_nodes(request["pks"], dry_run=True, **request["rules"])
        if sorted(ours) != aiida_pks:
            mismatches.append((request, sorted(ours), aiida_pks))
    assert mismatches == []
    assert len({tuple(p) for p in expected}) > 10  # the toggles and starts really produce different sets


def test_aiida_works_with_closure_installed(profile: Profile, backend: Backend, conn: psycopg.Connection,
                                            tmp_path: Path) -> None:
    kinds, spec = cycles_graph()
    ids, links = build(conn, kinds, spec)
    chain_ids, chain_links = build(conn, ["data", "calc", "data", "calc", "data"],
                                   [(0, 1, "input_calc"), (1, 2, "create"), (2, 3, "input_calc"), (3, 4, "create")])
    backend.install_closure()
    assert backend.refresh_closure().row_count > 0
    assert backend.closure_state().current

    assert run_graph_op("validate", profile, tmp_path) == {"nodes": len(ids) + len(chain_ids)}
    # aiida-core deletes a data node in the middle of the chain; its rules drag along the creating calc
    # (create backward) and everything downstream; the first input survives.
    deleted = run_graph_op("delete", profile, tmp_path, pks=[chain_ids[2]], dry_run=False)
    assert deleted["deleted"] is True and deleted["pks"] == sorted(chain_ids[1:])
    assert conn.execute("SELECT count(*) FROM db_dbnode WHERE id = ANY(%s)", (chain_ids,)).fetchone() == (1,)
    # fastdos notices: the closure is no longer current, queries fall back, a refresh rebuilds it.
    state = backend.closure_state()
    assert state.links_deleted_elsewhere and not state.current
    survivors = [link for link in chain_links + links if not {link[0], link[1]} & set(chain_ids[1:])]
    prov = rules.PROVENANCE_LINK_TYPES
    assert backend.get_descendants(chain_ids[:1]) == reference_bfs(survivors, chain_ids[:1], prov, True)
    assert backend.refresh_closure().action == "rebuild"
    assert backend.get_descendants(chain_ids[:1], use_closure=True) == {}
    assert backend.get_ancestors([ids[2]], use_closure=True) == reference_bfs(survivors, [ids[2]], prov, False)

    assert run_graph_op("validate", profile, tmp_path) == {"nodes": len(ids) + 1}
    assert run_graph_op("clear", profile, tmp_path) == {"nodes": 0}
    assert conn.execute("SELECT count(*) FROM fastdos_closure").fetchone() == (0,)
    state = backend.closure_state()
    assert state.installed and not state.current
    assert backend.refresh_closure().row_count == 0
    assert run_graph_op("validate", profile, tmp_path) == {"nodes": 0}
