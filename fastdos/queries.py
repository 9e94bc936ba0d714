"""The SQL registry: every statement fastdos runs lives in a ``.sql`` file under ``sql/``.

Each file starts with a header of ``-- key: value`` lines::

    -- name: settings/get
    -- purpose: Read one global setting.
    -- params: key
    -- returns: val

``name`` equals the file's path below ``sql/`` without the suffix; ``params`` lists the named parameters
(``%(key)s``) the body uses, ``-`` for none; ``kind: script`` marks a multi-statement DDL script (used by
the schema migrations), every other file holds one statement. Identifier placeholders (``{table}``) are
filled only through ``psycopg.sql.Identifier`` by :meth:`Query.compose`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import LiteralString, cast

from psycopg import sql
from psycopg.sql import Composable, Composed

_HEADER_LINE = re.compile(r"^--\s*(\w+):\s*(.*)$")
PARAM_PATTERN = re.compile(r"%\((\w+)\)s")
IDENTIFIER_PATTERN = re.compile(r"(?<![{])\{(\w+)\}(?![}])")
REQUIRED_KEYS = ("name", "purpose", "params", "returns")


@dataclass(frozen=True)
class Query:
    """One SQL file: its header fields and its body."""

    name: str
    purpose: str
    params: tuple[str, ...]
    returns: str
    kind: str
    text: str

    @functools.cached_property
    def sql(self) -> sql.SQL:
        """The body as a psycopg ``SQL`` object (fixed text, so the server can prepare it)."""
        return sql.SQL(cast(LiteralString, self.text))  # type: ignore[redundant-cast]

    @property
    def identifiers(self) -> tuple[str, ...]:
        """Names of the ``{identifier}`` placeholders of the body."""
        return tuple(dict.fromkeys(IDENTIFIER_PATTERN.findall(self.text)))

    def compose(self, **identifiers: str | Composable) -> Composed:
        """Fill ``{name}`` placeholders; plain strings become ``sql.Identifier``, never raw text."""
        missing = set(self.identifiers) - set(identifiers)
        if missing:
            raise KeyError(f"query {self.name} needs identifiers {sorted(missing)}")
        values = {
            key: value if isinstance(value, sql.Composable) else sql.Identifier(value)
            for key, value in identifiers.items()
        }
        return self.sql.format(**values)


def parse(name: str, source: str) -> Query:
    """Parse one SQL file; raise ``ValueError`` naming the file when its header is incomplete."""
    header: dict[str, str] = {}
    body_lines: list[str] = []
    in_header = True
    for line in source.splitlines():
        match = _HEADER_LINE.match(line) if in_header else None
        if match:
            header[match.group(1)] = match.group(2).strip()
            continue
        in_header = False
        body_lines.append(line)
    missing = [key for key in REQUIRED_KEYS if not header.get(key)]
    if missing:
        raise ValueError(f"sql/{name}.sql: header lacks {', '.join(missing)}")
    if header["name"] != name:
        raise ValueError(f"sql/{name}.sql: header name {header['name']!r} does not match the file path")
    params = () if header["params"] == "-" else tuple(p.strip() for p in header["params"].split(","))
    return Query(
        name=name,
        purpose=header["purpose"],
        params=params,
        returns=header["returns"],
        kind=header.get("kind", "statement"),
        text="\n".join(body_lines).strip() + "\n",
    )


@functools.cache
def registry() -> dict[str, Query]:
    """All queries shipped with the package, by name (loaded once per process)."""
    root = resources.files("fastdos.sql")
    found: dict[str, Query] = {}

    def walk(node: resources.abc.Traversable, prefix: str) -> None:
        for child in node.iterdir():
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith(".sql"):
                name = prefix + child.name[: -len(".sql")]
                found[name] = parse(name, child.read_text(encoding="utf-8"))

    walk(root, "")
    return found


def get(name: str) -> Query:
    """The query called ``name``; ``KeyError`` naming it when there is none."""
    try:
        return registry()[name]
    except KeyError:
        raise KeyError(f"no SQL file sql/{name}.sql") from None
