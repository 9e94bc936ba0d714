"""Compile aiida-style filter specifications into index-friendly SQL predicates.

aiida-core wraps every attribute filter in ``CASE WHEN jsonb_typeof(x) = '<type>' THEN <cast x> <op> v ELSE
false END`` (aiida-core#2770; bench/notes/query.md), which no index can serve. The same semantics need no CASE:

* equality and ``in`` compare jsonb with jsonb (``attributes #> %(path)s = %(v)s``): jsonb equality already
  requires the same JSON type, so no type check; a btree expression index on ``(attributes #> '{k}')``
  serves it (the path travels as a parameter; with custom plans PostgreSQL folds it into a constant and
  matches the index expression);
* ordering comparisons compare jsonb too and add ``jsonb_typeof(x) = '<type>'`` (jsonb orders *across*
  types, aiida compares within one) — the comparison is the index condition, the type check a filter;
  neither can raise, so no CASE is needed to guard a cast;
* ``contains`` on a nested path becomes ``attributes @> {"a": {"b": v}}`` (GIN ``jsonb_path_ops``-friendly);
* only the array-length operators keep a CASE, because ``jsonb_array_length`` raises on non-arrays.

aiida's CASE form is two-valued (false when the key is missing), the plain forms are NULL then. That is the
same in a WHERE clause as long as no NOT is above the predicate; under a negation the predicate is compiled
in *exact* mode (wrapped in ``COALESCE(..., false)``) so that ``~==`` keeps aiida's meaning (rows without the
key match). Filters on plain columns are three-valued in aiida too (``NOT (process_type = 'x')`` drops NULL
rows) and are compiled as such.

Every value becomes a parameter; identifiers come from :mod:`fastdos.query.entities`.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from ..errors import ValidationError
from .entities import BOOL, INT, JSON, TEXT, TIME, UUID, Entity

LOGICAL = {
    "and": ("AND", False),
    "or": ("OR", False),
    "~and": ("AND", True),
    "!and": ("AND", True),
    "~or": ("OR", True),
    "!or": ("OR", True),
}
OPERATORS = frozenset(
    [
        "==",
        "<",
        "<=",
        ">",
        ">=",
        "=<",
        "=>",
        "in",
        "like",
        "ilike",
        "has_key",
        "contains",
        "of_length",
        "longer",
        "shorter",
        "of_type",
        "and",
        "or",
    ]
)
COLUMN_OPERATORS = frozenset(["==", "<", "<=", ">", ">=", "=<", "=>", "in", "like", "ilike"])
JSON_TYPES = ("object", "array", "string", "number", "boolean", "null")
_COMPARE = {"<": "<", "<=": "<=", "=<": "<=", ">": ">", ">=": ">=", "=>": ">="}
_FALSE = sql.SQL("false")


class Params:
    """The parameters of one statement: values in, ``%(pN)s`` placeholders out."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> sql.Placeholder:
        """Store ``value`` under a fresh name and return its placeholder; text PostgreSQL cannot take is refused."""
        _check_text(getattr(value, "obj", value))  # Jsonb wraps its value in .obj
        name = f"p{len(self.values)}"
        self.values[name] = value
        return sql.Placeholder(name)


def _check_text(value: Any) -> None:
    """NUL and lone surrogates cannot be sent as text: a ValidationError before SQL, not a driver error."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValidationError(f"filter value or key {value!r:.80} contains the NUL character (cannot be stored)")
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                raise ValidationError(f"filter value or key {value!r:.80} is not UTF-8 (lone surrogate)") from None
    elif isinstance(value, (list, tuple)):
        for item in value:
            if type(item) is not int:  # (an id list: nothing to check, and the call per item showed in profiles)
                _check_text(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)


def split_path(entity: Entity, path: str) -> tuple[str, list[str]]:
    """``'attributes.a.b'`` -> (``'attributes'``, ``['a', 'b']``); errors for unknown columns and bad paths."""
    if not isinstance(path, str) or not path:
        raise ValidationError(f"a property path must be a non-empty string, not {path!r}")
    head, *keys = path.split(".")
    column = entity.column(head)
    if keys and entity.columns[column] != JSON:
        raise ValidationError(
            f"path {path!r} goes into {entity.name}.{column}, which is not a JSON column (only "
            f"{', '.join(c for c, t in entity.columns.items() if t == JSON) or 'none'} can hold nested keys)"
        )
    if any(not key for key in keys):
        raise ValidationError(f"path {path!r} has an empty key")
    return column, keys


def json_value(alias: str, column: str, keys: list[str], params: Params, *, text: bool = False) -> sql.Composable:
    """``alias.column #> %(path)s`` (or ``#>>`` for text); the column itself when there is no key."""
    ref = sql.Identifier(alias, column)
    if not keys:
        return sql.SQL("({}#>>'{{}}')").format(ref) if text else ref
    op = sql.SQL("#>>") if text else sql.SQL("#>")
    return sql.SQL("({} {} {})").format(ref, op, params.add(list(keys)))


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise ValidationError(f"filter value {value!r} of type {type(value).__name__} is not a JSON value")


def _check_json(value: Any) -> Any:
    """Check that ``value`` is JSON-serialisable with string keys (before any SQL runs)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_check_json(v) for v in value]
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise ValidationError(f"JSON object keys must be strings, not {key!r}")
        return {k: _check_json(v) for k, v in value.items()}
    raise ValidationError(f"filter value {value!r} of type {type(value).__name__} is not a JSON value")


def _check_column_value(entity: Entity, column: str, value: Any, op: str) -> Any:
    sqltype = entity.columns[column]
    ok: Callable[[Any], bool] = {
        INT: lambda v: isinstance(v, int) and not isinstance(v, bool),
        TEXT: lambda v: isinstance(v, str),
        UUID: lambda v: isinstance(v, (str, uuid.UUID)),
        TIME: lambda v: isinstance(v, (datetime.datetime, datetime.date)),
        BOOL: lambda v: isinstance(v, bool),
    }[sqltype]
    if value is None and op == "==":
        return None
    if not ok(value):
        raise ValidationError(
            f"filter {entity.name}.{column} {op} {value!r}: {column} is {sqltype}, the value is {type(value).__name__}"
        )
    if sqltype == UUID and isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            raise ValidationError(f"filter {entity.name}.{column} {op} {value!r}: not a UUID") from None
    return value


def parse_operator(operator: Any) -> tuple[str, bool]:
    """``'~=='``/``'!=='``/``'!='`` -> (``'=='``, negated); ValidationError for unknown operators."""
    if not isinstance(operator, str):
        raise ValidationError(f"filter operator must be a string, not {operator!r}")
    negated = False
    op = operator
    if op == "!=":
        op, negated = "==", True
    elif op[:1] in ("~", "!"):
        op, negated = op[1:], True
    if op not in OPERATORS:
        raise ValidationError(
            f"unknown filter operator {operator!r} (known: {', '.join(sorted(OPERATORS))}, "
            "each negated by a leading '~' or '!', and '!=')"
        )
    return op, negated


class FilterCompiler:
    """Compiles the filters of one vertex (entity + SQL alias) into one predicate."""

    def __init__(self, entity: Entity, alias: str, params: Params) -> None:
        self.entity = entity
        self.alias = alias
        self.params = params

    def compile(self, spec: Any, exact: bool = False) -> sql.Composable | None:
        """The AND of every entry of ``spec`` (aiida's filter dict), or None when it is empty."""
        if not isinstance(spec, Mapping):
            raise ValidationError(f"filters must be a dict, not {type(spec).__name__}")
        parts: list[sql.Composable] = []
        for key, value in spec.items():
            if key in LOGICAL:
                parts.extend(self._logical(key, value, exact))
                continue
            column, keys = split_path(self.entity, key)
            ops = value if isinstance(value, Mapping) else {"==": value}
            for operator, operand in ops.items():
                parts.append(self._operator(column, keys, operator, operand, exact))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else sql.SQL("({})").format(sql.SQL(" AND ").join(parts))

    def _logical(self, key: str, value: Any, exact: bool) -> list[sql.Composable]:
        joiner, negated = LOGICAL[key]
        if not isinstance(value, (list, tuple)):
            raise ValidationError(f"{key!r} takes a list of filter dicts, not {type(value).__name__}")
        subs = [s for s in (self.compile(item, exact or negated) for item in value) if s is not None]
        if not subs:
            return []
        combined = sql.SQL("({})").format(sql.SQL(f" {joiner} ").join(subs))
        return [sql.SQL("(NOT {})").format(combined) if negated else combined]

    def _operator(self, column: str, keys: list[str], operator: Any, value: Any, exact: bool) -> sql.Composable:
        op, negated = parse_operator(operator)
        exact = exact or negated
        if op in ("and", "or"):
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, Mapping) for v in value):
                raise ValidationError(f"operator {op!r} takes a list of {{operator: value}} dicts")
            subs = [self._operator(column, keys, o, v, exact) for item in value for o, v in item.items()]
            expr: sql.Composable = sql.SQL("({})").format(sql.SQL(" AND " if op == "and" else " OR ").join(subs))
        elif self.entity.columns[column] == JSON:
            expr = self._json(column, keys, op, value, exact)
        else:
            expr = self._column(column, op, value)
        return sql.SQL("(NOT {})").format(expr) if negated else expr

    # --- plain columns -----------------------------------------------------------------------------------

    def _column(self, column: str, op: str, value: Any) -> sql.Composable:
        ref = sql.Identifier(self.alias, column)
        sqltype = self.entity.columns[column]
        if op not in COLUMN_OPERATORS:
            raise ValidationError(
                f"operator {op!r} applies to JSON values, not to the column {self.entity.name}.{column}"
            )
        if op == "in":
            values = _check_in(value)
            if sqltype == INT and all(type(v) is int for v in values):
                checked = list(values)  # the common id list: ~6 us per 1000 ids instead of ~6 ms (profiled)
            else:
                checked = [_check_column_value(self.entity, column, v, op) for v in values]
            return sql.SQL("{} = ANY({}::{}[])").format(ref, self.params.add(checked), sql.SQL(sqltype))
        if op in ("like", "ilike"):
            _check_pattern(op, value)
            target = ref if sqltype == TEXT else sql.SQL("{}::text").format(ref)
            return sql.SQL("{} {} {}").format(
                target, sql.SQL("LIKE" if op == "like" else "ILIKE"), self.params.add(value)
            )
        checked = _check_column_value(self.entity, column, value, op)
        if op == "==":
            if checked is None:
                return sql.SQL("{} IS NULL").format(ref)
            return sql.SQL("{} = {}").format(ref, self.params.add(checked))
        return sql.SQL("{} {} {}").format(ref, sql.SQL(_COMPARE[op]), self.params.add(checked))

    # --- JSON values -------------------------------------------------------------------------------------

    def _json(self, column: str, keys: list[str], op: str, value: Any, exact: bool) -> sql.Composable:
        params = self.params
        x = json_value(self.alias, column, keys, params)
        expr: sql.Composable
        two_valued = True  # aiida's form is CASE ... ELSE false
        if op == "==":
            if value is None:
                # aiida-core: `CASE WHEN jsonb_typeof(x) = 'object' THEN (x #>> '{}')::jsonb IS NULL ...`: never true.
                return _FALSE
            value = _check_json(value)
            expr = sql.SQL("{} = {}").format(x, params.add(Jsonb(value)))
        elif op in _COMPARE:
            if value is None or isinstance(value, bool):
                # aiida-core refuses these too (SQLAlchemy: only =, != and IS work with None/True/False).
                raise ValidationError(f"operator {op!r} cannot compare with {value!r}")
            value = _check_json(value)
            expr = sql.SQL("({} {} {} AND jsonb_typeof({}) = {})").format(
                x, sql.SQL(_COMPARE[op]), params.add(Jsonb(value)), x, params.add(_json_type(value))
            )
        elif op == "in":
            values = _check_in(value)
            if values[0] is None:
                return _FALSE
            expr = sql.SQL("{} = ANY({}::jsonb[])").format(x, params.add([Jsonb(_check_json(v)) for v in values]))
        elif op in ("like", "ilike"):
            _check_pattern(op, value)
            text = json_value(self.alias, column, keys, params, text=True)
            expr = sql.SQL("({} {} {} AND jsonb_typeof({}) = 'string')").format(
                text, sql.SQL("LIKE" if op == "like" else "ILIKE"), params.add(value), x
            )
        elif op == "contains":
            value = _check_json(value)
            two_valued = False
            if keys and not exact and isinstance(value, (list, dict)) and not any(_is_index(k) for k in keys):
                wrapped: Any = value
                for key in reversed(keys):
                    wrapped = {key: wrapped}
                expr = sql.SQL("{} @> {}").format(sql.Identifier(self.alias, column), params.add(Jsonb(wrapped)))
            else:
                expr = sql.SQL("{} @> {}").format(x, params.add(Jsonb(value)))
        elif op == "has_key":
            if not isinstance(value, str):
                raise ValidationError(f"operator 'has_key' needs a string key, not {value!r}")
            two_valued = False
            expr = sql.SQL("{} ? {}").format(x, params.add(value))
        elif op in ("of_length", "longer", "shorter"):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValidationError(f"operator {op!r} needs an integer length, not {value!r}")
            cmp = {"of_length": "=", "longer": ">", "shorter": "<"}[op]
            return sql.SQL(
                "(CASE WHEN jsonb_typeof({}) = 'array' THEN jsonb_array_length({}) {} {} ELSE false END)"
            ).format(x, x, sql.SQL(cmp), params.add(value))
        else:  # of_type
            if value not in JSON_TYPES:
                raise ValidationError(f"operator 'of_type' takes one of {', '.join(JSON_TYPES)}, not {value!r}")
            if value == "null":
                return sql.SQL("(jsonb_typeof({}) = 'null' OR {} IS NULL)").format(x, x)
            two_valued = False
            expr = sql.SQL("jsonb_typeof({}) = {}").format(x, params.add(value))
        if exact and two_valued:
            return sql.SQL("COALESCE({}, false)").format(expr)
        return expr


def _check_pattern(op: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"operator {op!r} needs a string, not {value!r}")
    if (len(value) - len(value.rstrip("\\"))) % 2:
        raise ValidationError(f"{op} pattern {value!r} ends with an unescaped backslash (the escape character)")
    return value


def _is_index(key: str) -> bool:
    return key.lstrip("-").isdigit()


def _check_in(value: Any) -> list[Any]:
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
        raise ValidationError(f"operator 'in' needs a list of values, not {value!r}")
    values = list(value)
    if not values:
        raise ValidationError("operator 'in' needs a non-empty list")
    types = {type(v) for v in values}
    if len(types) > 1:
        raise ValidationError(f"operator 'in' needs values of one type, got {sorted(t.__name__ for t in types)}")
    return values
