"""Describe, load and compare PostgreSQL schema catalogs (test support, no pytest fixtures).

The fastdos schema must be *exactly* AiiDA's psql_dos schema at alembic head ``main_0002``. These helpers turn
a live schema into a JSON-serialisable description read from ``pg_catalog`` (``describe_catalog``), load the
reference ``pg_dump --schema-only`` file into an empty database (``load_reference_catalog``) and report the
differences between two descriptions in human-readable form (``diff_catalogs``).

Layout of a description (every mapping is built in sorted key order, so ``json.dumps`` is deterministic)::

    {
      "tables": {table: {"persistence": str, "options": [str],
                         "columns": [{"name", "type", "nullable", "default", "identity", "generated",
                                      "collation"}, ...],            # physical order, dropped columns skipped
                         "constraints": {name: {"type", "definition", "columns", "deferrable",
                                                "initially_deferred", "validated", "referenced_table",
                                                "referenced_columns", "on_delete", "on_update"}}}},
      "indexes": {name: {"table", "definition", "unique", "primary", "constraint", "valid"}},
      "sequences": {name: {"data_type", "start", "increment", "min", "max", "cache", "cycle", "owned_by"}},
      "views": [{"name", "kind", "definition"}],
      "triggers": [{"table", "name", "definition"}],
      "functions": [{"name", "arguments", "kind", "definition"}],
    }

Index names are unique per schema, so indexes live at top level; constraint names are only unique per table.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import psycopg

__all__ = [
    "LEGACY_CONSTRAINT_NAMES",
    "describe_catalog",
    "diff_catalogs",
    "legacy_index_name",
    "load_reference_catalog",
]

# Constraint names that AiiDA-1.x-migrated databases spell differently, legacy -> fresh
# (docs/schema.md#legacy-migrated-databases).
LEGACY_CONSTRAINT_NAMES: dict[str, str] = {
    "db_dbgroup_user_id_db_dbuser": "fk_db_dbgroup_user_id_db_dbuser",
}

# pg_constraint.contype -> readable type. NOT NULL ('n', PostgreSQL 18+) is deliberately absent: nullability
# is already reported per column, and its auto-generated names would only add noise. Trigger constraints
# ('t') show up in the trigger list instead.
_CONSTRAINT_TYPES: dict[str, str] = {
    "p": "PRIMARY KEY",
    "u": "UNIQUE",
    "f": "FOREIGN KEY",
    "c": "CHECK",
    "x": "EXCLUDE",
}

# pg_constraint.confdeltype / confupdtype -> SQL spelling (' ' for non-FK constraints).
_FK_ACTIONS: dict[str, str] = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}

_PERSISTENCE: dict[str, str] = {"p": "permanent", "u": "unlogged", "t": "temporary"}
_IDENTITY: dict[str, str | None] = {"": None, "a": "ALWAYS", "d": "BY DEFAULT"}
_GENERATED: dict[str, str | None] = {"": None, "s": "STORED", "v": "VIRTUAL"}
_PROKIND: dict[str, str] = {"f": "function", "p": "procedure", "a": "aggregate", "w": "window"}

# SET commands of a pg_dump header that leave session state behind; restored after loading the dump.
_SET_RE = re.compile(
    r"^\s*SET\s+(?:SESSION\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*(?:=|TO)", re.IGNORECASE | re.MULTILINE
)
_SET_CONFIG_RE = re.compile(r"set_config\(\s*'([A-Za-z_][A-Za-z0-9_.]*)'", re.IGNORECASE)
# pg_dump >= 15.14 / 16.10 / 17.6 wraps its output in these psql-only meta commands; they carry no DDL.
_HARMLESS_META_RE = re.compile(r"^\\(?:restrict|unrestrict)\b")
# Leading "CREATE [UNIQUE] INDEX <name> " of pg_get_indexdef(); the name is compared as the key instead.
_INDEXDEF_NAME_RE = re.compile(r'^(CREATE (?:UNIQUE )?INDEX (?:CONCURRENTLY )?)(?:"(?:[^"]|"")*"|\S+) ')

_Entry = dict[str, Any]


# ----------------------------------------------------------------------------------------------------
# describe
# ----------------------------------------------------------------------------------------------------


def describe_catalog(
    conn: psycopg.Connection[Any],
    schema: str = "public",
    *,
    exclude: Collection[str] = (),
) -> dict[str, Any]:
    """Return a deterministic, JSON-serialisable description of every object in ``schema``.

    ``exclude`` names tables to leave out, together with their indexes, constraints, triggers and the
    sequences they own. While reading, ``search_path`` is pinned to ``schema`` alone so that expressions
    (defaults, FK targets, ``nextval(...)``) come out unqualified and do not depend on the caller's session;
    the previous ``search_path`` is restored afterwards. ``pg_get_indexdef`` always qualifies the table, so
    its ``ON <schema>.`` prefix is stripped. Works on autocommit and non-autocommit connections (inside an
    open transaction a savepoint is used).
    """
    excluded = set(exclude)
    with conn.transaction(), conn.cursor() as cur:
        row = cur.execute("SELECT current_setting('search_path'), quote_ident(%s)", (schema,)).fetchone()
        assert row is not None
        old_search_path: str = row[0]
        quoted_schema: str = row[1]
        cur.execute("SELECT set_config('search_path', %s, false)", (quoted_schema,))
        try:
            tables = _describe_tables(cur, schema, excluded)
            indexes = _describe_indexes(cur, schema, quoted_schema, excluded)
            sequences = _describe_sequences(cur, schema, excluded)
            views = _describe_views(cur, schema)
            triggers = _describe_triggers(cur, schema, excluded)
            functions = _describe_functions(cur, schema)
        finally:
            cur.execute("SELECT set_config('search_path', %s, false)", (old_search_path,))
    return {
        "functions": functions,
        "indexes": indexes,
        "sequences": sequences,
        "tables": tables,
        "triggers": triggers,
        "views": views,
    }


def _describe_tables(cur: psycopg.Cursor[Any], schema: str, excluded: set[str]) -> dict[str, Any]:
    rows = cur.execute(
        """
        SELECT c.oid, c.relname, c.relpersistence, coalesce(c.reloptions, '{}'::text[])
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relkind IN ('r', 'p')
        ORDER BY c.relname
        """,
        (schema,),
    ).fetchall()
    tables: dict[str, Any] = {}
    for oid, name, persistence, options in rows:
        if name in excluded:
            continue
        tables[name] = {
            "columns": _describe_columns(cur, oid),
            "constraints": _describe_constraints(cur, oid),
            "options": sorted(options),
            "persistence": _PERSISTENCE.get(persistence, persistence),
        }
    return tables


def _describe_columns(cur: psycopg.Cursor[Any], table_oid: int) -> list[_Entry]:
    rows = cur.execute(
        """
        SELECT a.attname,
               pg_catalog.format_type(a.atttypid, a.atttypmod),
               a.attnotnull,
               pg_catalog.pg_get_expr(d.adbin, d.adrelid),
               a.attidentity::text,
               a.attgenerated::text,
               CASE WHEN a.attcollation <> t.typcollation THEN co.collname END
        FROM pg_catalog.pg_attribute a
        JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
        WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        (table_oid,),
    ).fetchall()
    columns: list[_Entry] = []
    for name, type_, not_null, default, identity, generated, collation in rows:
        columns.append(
            {
                "collation": collation,
                "default": default,
                "generated": _GENERATED.get(generated, generated),
                "identity": _IDENTITY.get(identity, identity),
                "name": name,
                "nullable": not not_null,
                "type": type_,
            }
        )
    return columns


def _describe_constraints(cur: psycopg.Cursor[Any], table_oid: int) -> dict[str, _Entry]:
    rows = cur.execute(
        """
        SELECT con.conname,
               con.contype::text,
               pg_catalog.pg_get_constraintdef(con.oid),
               con.condeferrable,
               con.condeferred,
               con.convalidated,
               ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
                     JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
                     ORDER BY k.ord)::text[],
               rc.relname,
               ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
                     JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
                     ORDER BY k.ord)::text[],
               con.confdeltype::text,
               con.confupdtype::text
        FROM pg_catalog.pg_constraint con
        LEFT JOIN pg_catalog.pg_class rc ON rc.oid = con.confrelid
        WHERE con.conrelid = %s AND con.contype = ANY(%s)
        ORDER BY con.conname
        """,
        (table_oid, list(_CONSTRAINT_TYPES)),
    ).fetchall()
    constraints: dict[str, _Entry] = {}
    for (
        name,
        contype,
        definition,
        deferrable,
        deferred,
        validated,
        columns,
        ref_table,
        ref_columns,
        on_delete,
        on_update,
    ) in rows:
        is_fk = contype == "f"
        constraints[name] = {
            "columns": list(columns),
            "deferrable": deferrable,
            "definition": definition,
            "initially_deferred": deferred,
            "on_delete": _FK_ACTIONS.get(on_delete) if is_fk else None,
            "on_update": _FK_ACTIONS.get(on_update) if is_fk else None,
            "referenced_columns": list(ref_columns) if is_fk else None,
            "referenced_table": ref_table if is_fk else None,
            "type": _CONSTRAINT_TYPES[contype],
            "validated": validated,
        }
    return constraints


def _describe_indexes(
    cur: psycopg.Cursor[Any], schema: str, quoted_schema: str, excluded: set[str]
) -> dict[str, _Entry]:
    rows = cur.execute(
        """
        SELECT ic.relname,
               tc.relname,
               pg_catalog.pg_get_indexdef(i.indexrelid),
               i.indisunique,
               i.indisprimary,
               i.indisvalid,
               con.conname
        FROM pg_catalog.pg_index i
        JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_catalog.pg_class tc ON tc.oid = i.indrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = ic.relnamespace
        LEFT JOIN pg_catalog.pg_constraint con
               ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
        WHERE n.nspname = %s AND tc.relkind IN ('r', 'p', 'm')
        ORDER BY ic.relname
        """,
        (schema,),
    ).fetchall()
    # pg_get_indexdef() qualifies the table whatever the search_path: drop "ON [ONLY] <schema>." so two
    # descriptions of differently named schemas stay comparable.
    prefix = re.compile(r" ON (ONLY )?" + re.escape(quoted_schema) + r"\.")
    indexes: dict[str, _Entry] = {}
    for name, table, definition, unique, primary, valid, constraint in rows:
        if table in excluded:
            continue
        indexes[name] = {
            "constraint": constraint,
            "definition": prefix.sub(r" ON \1", definition, count=1),
            "primary": primary,
            "table": table,
            "unique": unique,
            "valid": valid,
        }
    return indexes


def _describe_sequences(cur: psycopg.Cursor[Any], schema: str, excluded: set[str]) -> dict[str, _Entry]:
    rows = cur.execute(
        """
        SELECT c.relname,
               pg_catalog.format_type(s.seqtypid, NULL),
               s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
               owner.relname,
               a.attname
        FROM pg_catalog.pg_sequence s
        JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_catalog.pg_depend d
               ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
              AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')
        LEFT JOIN pg_catalog.pg_class owner ON owner.oid = d.refobjid
        LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE n.nspname = %s
        ORDER BY c.relname
        """,
        (schema,),
    ).fetchall()
    sequences: dict[str, _Entry] = {}
    for name, data_type, start, increment, min_, max_, cache, cycle, owner_table, owner_column in rows:
        if owner_table is not None and owner_table in excluded:
            continue
        sequences[name] = {
            "cache": cache,
            "cycle": cycle,
            "data_type": data_type,
            "increment": increment,
            "max": max_,
            "min": min_,
            "owned_by": f"{owner_table}.{owner_column}" if owner_table is not None else None,
            "start": start,
        }
    return sequences


def _describe_views(cur: psycopg.Cursor[Any], schema: str) -> list[_Entry]:
    rows = cur.execute(
        """
        SELECT c.relname,
               CASE c.relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END,
               pg_catalog.pg_get_viewdef(c.oid)
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relkind IN ('v', 'm')
        ORDER BY c.relname
        """,
        (schema,),
    ).fetchall()
    return [{"definition": d, "kind": k, "name": n} for n, k, d in rows]


def _describe_triggers(cur: psycopg.Cursor[Any], schema: str, excluded: set[str]) -> list[_Entry]:
    rows = cur.execute(
        """
        SELECT c.relname, t.tgname, pg_catalog.pg_get_triggerdef(t.oid)
        FROM pg_catalog.pg_trigger t
        JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND NOT t.tgisinternal
        ORDER BY c.relname, t.tgname
        """,
        (schema,),
    ).fetchall()
    return [{"definition": d, "name": n, "table": t} for t, n, d in rows if t not in excluded]


def _describe_functions(cur: psycopg.Cursor[Any], schema: str) -> list[_Entry]:
    rows = cur.execute(
        """
        SELECT p.proname,
               pg_catalog.pg_get_function_identity_arguments(p.oid),
               p.prokind::text,
               CASE WHEN p.prokind IN ('f', 'p') THEN pg_catalog.pg_get_functiondef(p.oid) END
        FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = %s
        ORDER BY p.proname, 2
        """,
        (schema,),
    ).fetchall()
    return [
        {"arguments": args, "definition": definition, "kind": _PROKIND.get(kind, kind), "name": name}
        for name, args, kind, definition in rows
    ]


# ----------------------------------------------------------------------------------------------------
# load
# ----------------------------------------------------------------------------------------------------


def load_reference_catalog(conn: psycopg.Connection[Any], dump_path: str | Path) -> None:
    """Execute the reference ``pg_dump --schema-only`` file ``dump_path`` into the database of ``conn``.

    The database must be empty and ``conn`` in autocommit mode (the caller created the database). The file is
    sent as one simple-protocol batch, so comments (including the commented-out historical PART C) stay
    comments. psql meta commands cannot be executed by the server: ``\\restrict``/``\\unrestrict`` (added by
    recent pg_dump releases, no DDL) are dropped, any other one raises ``ValueError`` before anything runs.
    The session settings the dump changes (``search_path`` is set to ``''``, plus ``client_min_messages``,
    ``check_function_bodies``, ...) are restored to their previous values afterwards.
    """
    if not conn.autocommit:
        raise ValueError("load_reference_catalog() needs an autocommit connection")
    text = Path(dump_path).read_text(encoding="utf-8")
    kept: list[str] = []
    for lineno, line in enumerate(text.splitlines(keepends=True), start=1):
        stripped = line.lstrip()
        if stripped.startswith("\\"):
            if _HARMLESS_META_RE.match(stripped):
                continue
            raise ValueError(f"{dump_path}:{lineno}: psql meta command, not executable: {stripped.strip()!r}")
        kept.append(line)
    sql_text = "".join(kept)

    settings = sorted({"search_path", *_SET_RE.findall(sql_text), *_SET_CONFIG_RE.findall(sql_text)})
    # missing_ok: a GUC this server does not know is simply not restored (the dump would fail on it anyway).
    saved = [
        (name, value)
        for name, value in conn.execute(
            "SELECT name, current_setting(name, true) FROM unnest(%s::text[]) AS name", (settings,)
        ).fetchall()
        if value is not None
    ]
    try:
        # The text is a trusted, checked-in file; psycopg sends a parameterless multi-statement string as
        # one simple query, which is what psql would do statement by statement.
        conn.execute(sql_text.encode("utf-8"))
    finally:
        for name, value in saved:
            conn.execute("SELECT set_config(%s, %s, false)", (name, value))


# ----------------------------------------------------------------------------------------------------
# diff
# ----------------------------------------------------------------------------------------------------


def legacy_index_name(name: str, table: str) -> str:
    """Map the fresh-database index name ``ix_<t>_<t>_<col>`` to the AiiDA-1.x form ``ix_<t>_<col>``.

    Any other name (``ix_pat_*``, ``uq_*``, PK names, already-legacy names) is returned unchanged.
    """
    doubled = f"ix_{table}_{table}_"
    if name.startswith(doubled):
        return f"ix_{table}_" + name[len(doubled) :]
    return name


def _canonical_constraint_name(name: str) -> str:
    return LEGACY_CONSTRAINT_NAMES.get(name, name)


def diff_catalogs(
    expected: Mapping[str, Any],
    actual: Mapping[str, Any],
    *,
    legacy_names: bool = False,
    ignore_column_order: bool = False,
) -> list[str]:
    """Return human-readable differences between two ``describe_catalog`` results (``[]`` means equal).

    With ``legacy_names=True`` the names of indexes and constraints are compared after normalising the
    AiiDA-1.x spelling on both sides (``ix_<t>_<t>_<col>`` -> ``ix_<t>_<col>``;
    ``db_dbgroup_user_id_db_dbuser`` == ``fk_db_dbgroup_user_id_db_dbuser``); everything else, index
    definitions included, must still match. The index name inside ``pg_get_indexdef`` text is never compared
    (the name is the key already). ``ignore_column_order=True`` compares columns by name only (legacy tables
    may have another physical column order, docs/schema.md#legacy-migrated-databases).
    """
    diffs: list[str] = []
    _diff_tables(
        expected.get("tables", {}), actual.get("tables", {}), legacy_names, ignore_column_order, diffs
    )
    _diff_keyed(
        "index",
        _normalise_indexes(expected.get("indexes", {}), legacy_names, diffs, "expected"),
        _normalise_indexes(actual.get("indexes", {}), legacy_names, diffs, "actual"),
        diffs,
    )
    _diff_keyed("sequence", expected.get("sequences", {}), actual.get("sequences", {}), diffs)
    _diff_keyed(
        "view", _by_key(expected.get("views", []), "name"), _by_key(actual.get("views", []), "name"), diffs
    )
    _diff_keyed(
        "trigger",
        _by_key(expected.get("triggers", []), "table", "name"),
        _by_key(actual.get("triggers", []), "table", "name"),
        diffs,
    )
    _diff_keyed(
        "function",
        _by_key(expected.get("functions", []), "name", "arguments"),
        _by_key(actual.get("functions", []), "name", "arguments"),
        diffs,
    )
    return diffs


def _by_key(items: Iterable[Mapping[str, Any]], *fields: str) -> dict[str, Any]:
    """Key a list of entries by ``fields`` (joined with '.', or 'name(args)' for functions)."""
    keyed: dict[str, Any] = {}
    for item in items:
        if fields == ("name", "arguments"):
            key = f"{item['name']}({item['arguments']})"
        else:
            key = ".".join(str(item[f]) for f in fields)
        keyed[key] = item
    return keyed


def _diff_fields(
    label: str, expected: Mapping[str, Any], actual: Mapping[str, Any], diffs: list[str]
) -> None:
    for field in sorted(set(expected) | set(actual)):
        e, a = expected.get(field), actual.get(field)
        if e != a:
            diffs.append(f"{label}: {field} expected {e!r} got {a!r}")


def _diff_keyed(
    kind: str,
    expected: Mapping[str, Any],
    actual: Mapping[str, Any],
    diffs: list[str],
    prefix: str = "",
) -> None:
    for key in sorted(set(expected) | set(actual)):
        label = f"{kind} {prefix}{key}"
        if key not in actual:
            diffs.append(f"{label}: missing")
        elif key not in expected:
            diffs.append(f"{label}: unexpected")
        else:
            _diff_fields(label, expected[key], actual[key], diffs)


def _diff_tables(
    expected: Mapping[str, Any],
    actual: Mapping[str, Any],
    legacy_names: bool,
    ignore_column_order: bool,
    diffs: list[str],
) -> None:
    for table in sorted(set(expected) | set(actual)):
        if table not in actual:
            diffs.append(f"table {table}: missing")
            continue
        if table not in expected:
            diffs.append(f"table {table}: unexpected")
            continue
        exp, act = expected[table], actual[table]
        _diff_fields(
            f"table {table}",
            {k: v for k, v in exp.items() if k not in ("columns", "constraints")},
            {k: v for k, v in act.items() if k not in ("columns", "constraints")},
            diffs,
        )
        _diff_columns(table, exp.get("columns", []), act.get("columns", []), ignore_column_order, diffs)
        _diff_keyed(
            "constraint",
            _normalise_constraints(exp.get("constraints", {}), legacy_names),
            _normalise_constraints(act.get("constraints", {}), legacy_names),
            diffs,
            prefix=f"{table}.",
        )


def _diff_columns(
    table: str,
    expected: list[Mapping[str, Any]],
    actual: list[Mapping[str, Any]],
    ignore_column_order: bool,
    diffs: list[str],
) -> None:
    exp_by_name = {c["name"]: c for c in expected}
    act_by_name = {c["name"]: c for c in actual}
    for name in exp_by_name:
        if name not in act_by_name:
            diffs.append(f"{table}.{name}: missing column")
    for name in act_by_name:
        if name not in exp_by_name:
            diffs.append(f"{table}.{name}: unexpected column")
    common_exp = [n for n in exp_by_name if n in act_by_name]
    common_act = [n for n in act_by_name if n in exp_by_name]
    if not ignore_column_order and common_exp != common_act:
        diffs.append(f"{table}: column order expected {common_exp} got {common_act}")
    for name in common_exp:
        _diff_fields(f"{table}.{name}", exp_by_name[name], act_by_name[name], diffs)


def _normalise_constraints(constraints: Mapping[str, Any], legacy_names: bool) -> dict[str, Any]:
    if not legacy_names:
        return dict(constraints)
    # Legacy and fresh names never coexist on one table in practice; if they did, the later one wins and the
    # definitions still get compared, which is good enough for a test helper.
    return {_canonical_constraint_name(name): entry for name, entry in constraints.items()}


def _normalise_indexes(
    indexes: Mapping[str, Any], legacy_names: bool, diffs: list[str], side: str
) -> dict[str, Any]:
    normalised: dict[str, Any] = {}
    for name, entry in indexes.items():
        new_entry = dict(entry)
        # The index name is part of pg_get_indexdef() text; it is compared as the key, not twice.
        new_entry["definition"] = _INDEXDEF_NAME_RE.sub(r"\1", str(entry.get("definition", "")), count=1)
        key = name
        if legacy_names:
            key = legacy_index_name(name, str(entry.get("table", "")))
            if new_entry.get("constraint") is not None:
                new_entry["constraint"] = _canonical_constraint_name(str(new_entry["constraint"]))
        if key in normalised:
            diffs.append(f"index {key}: {side} has it under both its fresh and its legacy name")
        normalised[key] = new_entry
    return normalised
