"""Every SQL file has a complete header, and its declared parameters are exactly those its body uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fastdos import queries

ROOT = Path(__file__).resolve().parents[1]
ALL = sorted(queries.registry().values(), key=lambda q: q.name)


def test_registry_finds_every_file() -> None:
    files = {str(p.relative_to(ROOT / "sql"))[: -len(".sql")] for p in (ROOT / "sql").rglob("*.sql")}
    assert files == set(queries.registry())


@pytest.mark.parametrize("query", ALL, ids=lambda q: q.name)
def test_header_and_params(query: queries.Query) -> None:
    assert query.purpose and query.returns
    used = set(queries.PARAM_PATTERN.findall(query.text))
    assert used == set(query.params), f"{query.name}: header params {query.params} but body uses {sorted(used)}"
    if query.kind == "script":
        assert not query.params
    else:
        # One statement per file: a semicolon may only end the text.
        body = re.sub(r"'(?:[^']|'')*'", "''", query.text).strip()
        assert ";" not in body.rstrip(";"), f"{query.name} holds more than one statement"


@pytest.mark.parametrize("query", ALL, ids=lambda q: q.name)
def test_no_expanded_in_lists(query: queries.Query) -> None:
    # Lists travel as one array parameter (= ANY(%(ids)s)), so the statement text never changes.
    assert not re.search(r"\bIN\s*\(\s*%\(", query.text, re.IGNORECASE), query.name


def test_every_query_name_used_in_code_exists() -> None:
    pattern = re.compile(r"""["']((?:[a-z_]+/)+[a-z0-9_]+)["']""")
    used: set[str] = set()
    for path in list((ROOT / "fastdos").rglob("*.py")) + list((ROOT / "migrations").rglob("*.py")):
        used.update(pattern.findall(path.read_text(encoding="utf-8")))
    registry = set(queries.registry())
    candidates = {name for name in used if name.split("/")[0] in {n.split("/")[0] for n in registry}}
    assert candidates - registry == set()


def test_bad_header_is_refused() -> None:
    with pytest.raises(ValueError, match="header lacks purpose"):
        queries.parse("x/y", "-- name: x/y\n-- params: -\n-- returns: r\nSELECT 1;\n")
    with pytest.raises(ValueError, match="does not match"):
        queries.parse("x/y", "-- name: x/z\n-- purpose: p\n-- params: -\n-- returns: r\nSELECT 1;\n")
    with pytest.raises(KeyError, match="no SQL file"):
        queries.get("no/such_query")


def test_identifiers_only_through_psycopg_sql() -> None:
    query = queries.get("migrator/delete_rows")
    assert query.identifiers == ("table",)
    composed = query.compose(table='db_dbnode"; DROP TABLE x; --')
    assert '"db_dbnode""; DROP TABLE x; --"' in composed.as_string(None)
    with pytest.raises(KeyError):
        query.compose()
