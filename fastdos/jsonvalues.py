"""JSON values for ``jsonb`` columns: validate and serialise once, naming the row and key path on failure.

PostgreSQL's ``jsonb`` refuses ``NaN``/``Infinity`` and the NUL character (``\\u0000``); JSON itself has
only string keys. fastdos refuses such values *before* anything is written, with an error that names the
row index, the column and the key path (``rows[3]['attributes']['a'][2]: NaN is not a JSON value``).

Serializer choice (bench/notes/ingest.md): orjson serialises a 10-key attribute dict in 0.55 us against
12.6 us for ``json.dumps(ensure_ascii=False, allow_nan=False, separators=...)`` — 23x, which is most of the
client-side cost of a node row. orjson already refuses non-string keys and non-JSON types (through
``default`` and the passthrough options below), but it writes NaN/inf as ``null`` and lets ``\\u0000``
through. Both can only appear in its output as ``null`` / ``\\u0000``, so a byte search of the output
(0.5 us) decides whether the exact, slower walk of :func:`check` has to run. Integers beyond 64 bits, which
orjson refuses but ``jsonb`` (numeric) stores, go through the walk plus ``json.dumps``.
"""

from __future__ import annotations

import json
import math
from math import isfinite
from typing import Any

import orjson

from .errors import ValidationError

# Make orjson call ``default`` (which refuses) for everything that is not plain JSON: datetimes, dataclasses
# and str/int/dict/list subclasses would otherwise be turned into JSON silently and not round-trip.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS

# Version byte of the binary ``jsonb`` wire format, followed by the JSON text (jsonb_recv).
JSONB_VERSION = b"\x01"


_CONTAINERS = (dict, list, tuple)


class _Refused(Exception):
    """orjson met a value it does not handle itself (decided by the exact walk)."""


def _refuse(value: Any) -> Any:
    raise _Refused


def _path(prefix: str, key: object) -> str:
    return f"{prefix}[{key!r}]"


def check(value: Any, where: str) -> None:
    """Raise ``ValidationError`` naming the key path below ``where`` if ``value`` is not storable JSON."""
    kind = type(value)
    if kind is str:
        if "\x00" in value:
            raise ValidationError(f"{where}: the NUL character (\\u0000) cannot be stored in jsonb")
    elif kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise ValidationError(f"{where}: JSON object keys must be strings, not {type(key).__name__} {key!r}")
            if "\x00" in key:
                raise ValidationError(f"{_path(where, key)}: the NUL character (\\u0000) cannot be stored in jsonb")
            check(item, _path(where, key))
    elif kind is list or kind is tuple:
        for index, item in enumerate(value):
            check(item, f"{where}[{index}]")
    elif kind is float:
        if not math.isfinite(value):
            raise ValidationError(f"{where}: {value!r} is not a JSON value (NaN and infinity are refused)")
    elif value is None or kind is bool or kind is int:
        return
    else:
        raise ValidationError(f"{where}: a {kind.__name__} is not a JSON value ({value!r:.80})")


def _nonfinite(value: Any) -> bool:
    """Whether a NaN or infinity hides in ``value`` (no path bookkeeping: the common, valid case is fast)."""
    items = value.values() if type(value) is dict else value
    for item in items:
        kind = type(item)
        if kind is float:
            if not isfinite(item):
                return True
        elif (kind is dict or kind is list or kind is tuple) and _nonfinite(item):
            return True
    return False


def _check(value: Any, where: str) -> None:
    try:
        check(value, where)
    except RecursionError as exc:
        raise ValidationError(f"{where}: nested too deeply (or contains itself)") from exc


def dumps(value: Any, row: int, column: str) -> bytes:
    """Serialise ``value`` to JSON text (UTF-8); ``ValidationError`` naming the row, column and key path."""
    try:
        data = orjson.dumps(value, default=_refuse, option=_ORJSON_OPTIONS)
    except (TypeError, _Refused, orjson.JSONEncodeError):
        # Non-string key, foreign type, int beyond 64 bits, or recursion: the walk names the culprit or
        # clears the value (big ints), which the standard library then serialises.
        where = f"rows[{row}][{column!r}]"
        _check(value, where)
        try:
            return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
        except (TypeError, ValueError, RecursionError) as exc:
            raise ValidationError(f"{where}: not a JSON value ({exc})") from exc
    # orjson writes NaN/inf as null and keeps NUL as \u0000: only then is the exact walk needed.
    if b"\\u0000" in data or (
        b"null" in data and (type(value) is float or (type(value) in _CONTAINERS and _nonfinite(value)))
    ):
        _check(value, f"rows[{row}][{column!r}]")
    return data


def jsonb(value: Any, row: int, column: str) -> bytes:
    """The binary ``jsonb`` wire form of ``value`` (version byte + JSON text), validated."""
    return JSONB_VERSION + dumps(value, row, column)
