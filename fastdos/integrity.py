"""Provenance integrity checks that aiida-core 1.x ran (``verdi database integrity``) and 2.x dropped.

Each check is one set-wise statement returning a total and a few examples; the repository check stages the
container's key list in a temporary table with COPY and anti-joins the keys found in ``repository_metadata``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import container_keys, db
from .repository import Repository
from .rules import LINK_TYPES

DEFAULT_EXAMPLES = 10


@dataclass(frozen=True)
class CheckResult:
    """One check: how many problems it found and up to ``examples`` of them (as dicts)."""

    name: str
    description: str
    count: int
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.count == 0


@dataclass(frozen=True)
class IntegrityReport:
    """All checks; ``ok`` when none found anything."""

    checks: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def __getitem__(self, name: str) -> CheckResult:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for the CLI)."""
        return {
            "ok": self.ok,
            "checks": {c.name: {"description": c.description, "count": c.count, "examples": c.examples}
                       for c in self.checks},
        }

    def summary(self) -> str:
        """Human-readable lines, one per check, examples indented."""
        lines = []
        for check in self.checks:
            status = "ok" if check.ok else f"{check.count} found"
            lines.append(f"{check.name}: {status} — {check.description}")
            lines.extend(f"    {example}" for example in check.examples)
        return "\n".join(lines)


# name, query, description, example columns (the last column of every query is the total)
_SQL_CHECKS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("duplicate_uuids", "graph/integrity_duplicate_uuids", "node UUIDs used by more than one node", ("uuid", "ids")),
    (
        "link_endpoints",
        "graph/integrity_link_endpoints",
        "links whose endpoints have the wrong node kind for the link type",
        ("link_id", "type", "input_id", "input_node_type", "output_id", "output_node_type"),
    ),
    (
        "multiple_callers",
        "graph/integrity_multiple_callers",
        "processes with more than one incoming call link",
        ("node_id", "caller_ids"),
    ),
    (
        "multiple_creators",
        "graph/integrity_multiple_creators",
        "nodes with more than one incoming create link",
        ("node_id", "creator_ids"),
    ),
    (
        "unknown_link_types",
        "graph/integrity_unknown_link_types",
        "links whose type is not a LinkType value",
        ("link_id", "type", "input_id", "output_id"),
    ),
)


def _result(
    name: str, description: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]], examples_wanted: int
) -> CheckResult:
    # The queries fetch at least one row (LIMIT max(examples, 1)): the total rides on every row.
    total = int(rows[0][-1]) if rows else 0
    examples = [dict(zip(columns, (list(v) if isinstance(v, list) else v for v in row[:-1]), strict=True))
                for row in rows[:examples_wanted]]
    return CheckResult(name, description, total, examples)


def check_database(conn: db.Connection, examples: int = DEFAULT_EXAMPLES) -> list[CheckResult]:
    """The five database-only checks."""
    results = []
    for name, query, description, columns in _SQL_CHECKS:
        params: dict[str, Any] = {"examples": max(examples, 1)}
        if name == "unknown_link_types":
            params["link_types"] = list(LINK_TYPES)
        results.append(_result(name, description, columns, db.all_rows(conn, query, params), examples))
    return results


def check_repository(conn: db.Connection, repository: Repository, examples: int = DEFAULT_EXAMPLES) -> CheckResult:
    """Keys referenced by nodes but missing from the container; ``conn`` must be inside a transaction."""
    container_keys.stage(conn, repository)
    rows = db.all_rows(conn, "graph/integrity_missing_objects", {"examples": max(examples, 1)})
    container_keys.drop(conn)
    return _result(
        "missing_objects",
        "repository keys referenced by nodes but missing from the container",
        ("key", "node_ids"),
        rows,
        examples,
    )
