"""Archive (SQLite) values to the Python values that the binary COPY dumpers take.

The archive stores uuids as text, timestamps as naive UTC text (aiida's TZDateTime) and JSON as text
(docs/archive-format.md#database). JSON text goes to ``jsonb`` as it is, prefixed by the version byte of the binary
jsonb wire format (PostgreSQL parses and checks it); it is parsed here only when a node's extras or attributes
must be cleaned the way aiida-core cleans them on import.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson

from ..archive import ImportValidationError

_JSONB = b"\x01"  # version byte of the binary jsonb wire format


def uuid_bytes(value: Any, what: str) -> bytes:
    """The 16 raw bytes of an archive uuid (text with or without dashes)."""
    try:
        raw = bytes.fromhex(str(value).replace("-", ""))
    except ValueError:
        raw = b""
    if len(raw) != 16:
        raise ImportValidationError(f"{what}: {value!r} is not a UUID")
    return raw


def uuid_text(raw: bytes) -> str:
    """The canonical text of 16 raw uuid bytes."""
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def timestamp(value: Any, what: str) -> datetime:
    """An archive timestamp (naive UTC text, aiida's TZDateTime) as an aware datetime."""
    if type(value) is str and len(value) == 26:  # aiida's "YYYY-MM-DD HH:MM:SS.ffffff": append the zone
        try:
            return datetime.fromisoformat(value + "+00:00")
        except ValueError:
            pass
    try:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise ImportValidationError(f"{what}: {value!r} is not a timestamp") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def jsonb(text: Any) -> bytes:
    """JSON text of the archive as the binary jsonb wire value (PostgreSQL parses and checks it)."""
    if text is None:
        return b"\x01{}"
    return _JSONB + (text.encode() if isinstance(text, str) else json.dumps(text).encode())


def parse_json(text: Any, what: str) -> Any:
    """Parse archive JSON. orjson is ~5x faster than json here and refuses NaN/Infinity (which jsonb refuses
    too); integers beyond 64 bits, which only orjson refuses, fall back to the json module."""
    if text is None:
        return {}
    if not isinstance(text, (str, bytes)):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        try:
            return json.loads(text, parse_constant=_no_constant)
        except ValueError:
            raise ImportValidationError(f"{what}: invalid JSON ({exc})") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def dump_jsonb(value: Any) -> bytes:
    """A Python JSON value as the binary jsonb wire value."""
    try:
        return _JSONB + orjson.dumps(value)
    except TypeError:  # integers beyond 64 bits (parsed by the json fallback above)
        return _JSONB + json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def node_extras(extras: Any, node_type: str, what: str) -> bytes:
    """A node's extras as aiida imports them: "private" ``_aiida_*`` extras (the caching hash, ...) dropped,
    and a legacy Code's ``hidden``. The text test avoids parsing the JSON of the (many) nodes with none."""
    code = node_type.endswith("code.Code.")
    if extras is None or not ('"_aiida_' in extras or (code and '"hidden"' in extras)):
        return jsonb(extras)
    values = parse_json(extras, f"{what} extras")
    values = {k: v for k, v in values.items() if not k.startswith("_aiida_")}
    if code:
        values.pop("hidden", None)
    return dump_jsonb(values)


def node_attributes(attributes: Any, node_type: str, what: str) -> bytes:
    """A node's attributes as aiida imports them: a process node's ``checkpoints`` dropped."""
    if attributes is None or not node_type.startswith("process.") or '"checkpoints"' not in attributes:
        return jsonb(attributes)
    values = parse_json(attributes, f"{what} attributes")
    values.pop("checkpoints", None)
    return dump_jsonb(values)
