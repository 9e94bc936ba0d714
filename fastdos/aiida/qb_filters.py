"""aiida-core's filter and property vocabulary: which filters, properties and operators the plugin's compiler
covers exactly as aiida-core's SqlaQueryBuilder reads them (its ``build_filters``, ``get_column`` and
``PROJECT_MAP``). Anything else raises :class:`Unsupported`, and the query runs through aiida-core's own builder,
which then raises aiida's own exception for the inputs it rejects.
"""

from __future__ import annotations

from typing import Any

from ..query.entities import JSON, LINK, TEXT, Entity

LOGICAL_KEYS = ("and", "or", "~or", "~and", "!and", "!or")
# aiida-core's operators (SqlaQueryBuilder.get_filter_expr_from_jsonb / _from_column); '=<' and '=>' are JSON-only.
JSON_OPERATORS = frozenset(
    ["==", ">", "<", ">=", "=>", "<=", "=<", "of_type", "like", "ilike", "in", "contains", "has_key", "of_length"]
) | {"longer", "shorter"}
COLUMN_OPERATORS = frozenset(["==", ">", "<", ">=", "<=", "like", "ilike", "in"])
JSON_TYPES = ("object", "array", "string", "number", "boolean", "null")
# JSON columns whose keys aiida can filter and project (its models name the others ``_metadata``, which its
# filter code does not resolve): these go through the fastdos compiler, the rest falls back.
JSON_PATH_COLUMNS = {"node": ("attributes", "extras", "repository_metadata"), "group": ("extras",)}
# aiida treats these names as JSON even without a key (``is_jsonb`` in its build_filters).
JSON_BY_NAME = ("attributes", "extras")
METADATA_ENTITIES = ("computer", "log", "authinfo")


class Unsupported(Exception):
    """A query shape this compiler does not cover (or an input aiida rejects): run aiida's own builder."""


def _column(entity: Entity, name: str) -> str:
    """The column of aiida's property ``name`` (its PROJECT_MAP aliases are fastdos' entity aliases)."""
    if not isinstance(name, str):
        raise Unsupported(f"property {name!r}")
    if entity is LINK:  # aiida maps no alias for links ('pk' is not a link property there)
        if name not in LINK.columns:
            raise Unsupported(f"link property {name!r}")
        return name
    real = entity.aliases.get(name, name)
    if real not in entity.columns:
        raise Unsupported(f"property {name!r} of {entity.name}")
    if real == "metadata" and entity.name in METADATA_ENTITIES:
        raise Unsupported(f"{entity.name}.metadata (aiida's model names it _metadata)")
    return real


def json_column(entity: Entity, name: str, has_keys: bool, *, for_filter: bool = True) -> tuple[str, bool]:
    """(column, is_json) of a filter or projection path head, as aiida reads it."""
    column = _column(entity, name)
    is_json = has_keys or name in JSON_BY_NAME
    if is_json and column not in JSON_PATH_COLUMNS.get(entity.name, ()):
        raise Unsupported(f"JSON path on {entity.name}.{name}")
    if for_filter and not is_json and entity.columns[column] == JSON:
        raise Unsupported(f"whole-column filter on {entity.name}.{name}")
    return column, is_json


def check_filters(entity: Entity, spec: Any) -> set[str]:
    """Check aiida's filter dict for shapes verified against aiida-core; returns feature names for the shape."""
    if not isinstance(spec, dict):
        raise Unsupported(f"filters of type {type(spec).__name__}")
    features: set[str] = set()
    for key, value in spec.items():
        if key in LOGICAL_KEYS:
            if not isinstance(value, (list, tuple)):
                raise Unsupported(f"{key!r} with {type(value).__name__}")
            features.add(key.lstrip("~!"))
            for sub in value:
                features.update(check_filters(entity, sub))
            continue
        if not isinstance(key, str):
            raise Unsupported(f"filter key {key!r}")
        head, *keys = key.split(".")
        column, is_json = json_column(entity, head, bool(keys))
        if any(not k for k in keys):
            raise Unsupported(f"empty key in {key!r}")
        ops = value if isinstance(value, dict) else {"==": value}
        for operator, operand in ops.items():
            _check_operator(operator, operand, is_json, is_json or entity.columns[column] == TEXT)
            features.add(("json:" if is_json else "column:") + str(operator).lstrip("~!"))
    return features


def _scalar(value: Any) -> bool:
    return (isinstance(value, (str, int, float)) and not isinstance(value, bool)) or isinstance(value, bool)


def _json_plain(value: Any) -> bool:
    if value is None or _scalar(value):
        return True
    if isinstance(value, list):
        return all(_json_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_plain(v) for k, v in value.items())
    return False


def _check_operator(operator: Any, value: Any, is_json: bool, text: bool) -> None:
    if not isinstance(operator, str):
        raise Unsupported(f"operator {operator!r}")
    base = operator[1:] if operator[:1] in ("~", "!") else operator
    if base[:1] in ("~", "!"):
        raise Unsupported(f"operator {operator!r}")
    if base in ("and", "or"):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, dict) for v in value):
            raise Unsupported(f"operator {operator!r} with {value!r:.60}")
        for item in value:
            for sub_op, sub_value in item.items():
                _check_operator(sub_op, sub_value, is_json, text)
        return
    if base not in (JSON_OPERATORS if is_json else COLUMN_OPERATORS):
        raise Unsupported(f"operator {operator!r} on {'JSON' if is_json else 'a column'}")
    if base == "ilike" and not text:
        # aiida casts a column to text for 'like' only: 'ilike' on a uuid/integer/time column is an error there
        raise Unsupported("ilike on a column that is not text")
    ok = True
    if base in ("like", "ilike"):
        ok = isinstance(value, str)
    elif base == "in":
        ok = (
            isinstance(value, (list, tuple))
            and bool(value)
            and all(_scalar(v) for v in value)
            and len({type(v) for v in value}) == 1
        )
    elif base in ("of_length", "longer", "shorter"):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif base == "has_key":
        ok = isinstance(value, str)
    elif base == "of_type":
        ok = value in JSON_TYPES
    elif base == "contains":
        ok = isinstance(value, (list, dict)) and _json_plain(value)
    elif base == "==":
        ok = _json_plain(value) if is_json else True
    elif is_json:  # ordering comparisons; aiida's None/bool forms are left to aiida (fastdos refuses them)
        ok = _json_plain(value) and value is not None and not isinstance(value, bool)
    if not ok:
        raise Unsupported(f"operator {operator!r} with {type(value).__name__} {value!r:.60}")
