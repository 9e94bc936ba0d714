"""Property-based tests of bulk_insert / bulk_update / query inputs (hypothesis).

Every input either round-trips exactly (read back with a plain psycopg connection) or is refused with a
``ValidationError`` naming the field before anything is written. jsonb normalises numbers (PostgreSQL
``numeric``): a float comes back as the same number (``float(back) == value``) but may come back as an int
(``1e16`` -> ``10000000000000000``) and ``-0.0`` as ``0``; that is PostgreSQL's behaviour (aiida-core's too),
so numbers are compared by value.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastdos.backend import Backend
from fastdos.errors import FastdosError, IntegrityError, ValidationError
from tests.helpers import insert_user

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

# Every code point, with lone surrogates, NUL and quoting characters made frequent (they are rare otherwise).
ANY_TEXT = st.text(
    st.characters(exclude_categories=())
    | st.characters(categories=["Cs"])
    | st.sampled_from(["\x00", "'", '"', "\\", "%", "{", "}", "$", "\u2028"]),
    max_size=40,
)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([2**63, -(2**63) - 1, 1e308, -1e-308, 5e-324, -0.0, 1e16]),
)
JSON = st.recursive(
    st.none() | st.booleans() | NUMBERS | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=20,
)


def _bad_text(text: str) -> bool:
    return "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def _refusable(value: Any) -> bool:
    """Whether ``value`` holds something jsonb/text cannot store: NUL, a lone surrogate, NaN or infinity."""
    if isinstance(value, str):
        return _bad_text(value)
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_refusable(k) or _refusable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_refusable(v) for v in value)
    return False


def _same(value: Any, back: Any) -> bool:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return type(back) is type(value) and back == value
    if isinstance(value, int):
        return type(back) is int and back == value
    if isinstance(value, float):
        return isinstance(back, int | float) and not isinstance(back, bool) and float(back) == value
    if isinstance(value, dict):
        return (
            isinstance(back, dict) and back.keys() == value.keys() and all(_same(v, back[k]) for k, v in value.items())
        )
    if isinstance(value, list):
        return isinstance(back, list) and len(back) == len(value) and all(map(_same, value, back))
    raise AssertionError(f"unexpected {value!r}")


def _nodes(conn: psycopg.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM db_dbnode").fetchone()[0])  # type: ignore[index]


@SETTINGS
@given(
    label=ANY_TEXT, description=ANY_TEXT, node_type=ANY_TEXT, attributes=JSON, extras=st.dictionaries(ANY_TEXT, JSON)
)
def test_bulk_insert_round_trips_or_refuses(
    backend: Backend,
    conn: psycopg.Connection,
    label: str,
    description: str,
    node_type: str,
    attributes: Any,
    extras: Any,
) -> None:
    user = conn.execute("SELECT id FROM db_dbuser LIMIT 1").fetchone()
    user_id = user[0] if user else insert_user(conn)
    row = {
        "user_id": user_id,
        "label": label,
        "description": description,
        "node_type": node_type,
        "attributes": attributes,
        "extras": extras,
    }
    before = _nodes(conn)
    try:
        (pk,) = backend.bulk_insert("node", [row], allow_defaults=True)
    except ValidationError as exc:
        culprits = [
            key for key in ("label", "description", "node_type", "attributes", "extras") if _refusable(row[key])
        ]
        assert culprits, f"a storable row was refused: {exc}"
        assert any(repr(key) in str(exc) for key in culprits), f"the error does not name the field: {exc}"
        assert _nodes(conn) == before
        return
    assert not any(_refusable(row[key]) for key in row), "an unstorable value was accepted"
    back = conn.execute(
        "SELECT label, description, node_type, attributes, extras FROM db_dbnode WHERE id = %s", (pk,)
    ).fetchone()
    assert back is not None
    assert back[:3] == (label, description, node_type)
    assert _same(attributes, back[3]) and _same(extras, back[4])


@SETTINGS
@given(
    label=ANY_TEXT, extras=JSON, ctime=st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-11))]))
)
def test_bulk_update_round_trips_or_refuses(
    backend: Backend, conn: psycopg.Connection, label: str, extras: Any, ctime: datetime
) -> None:
    user_id = insert_user(conn, f"{uuid.uuid4()}@x")
    (pk,) = backend.bulk_insert("node", [{"user_id": user_id, "label": "orig"}], allow_defaults=True)
    snapshot = conn.execute("SELECT label, extras, ctime, mtime FROM db_dbnode WHERE id = %s", (pk,)).fetchone()
    row = {"id": pk, "label": label, "extras": extras, "ctime": ctime}
    try:
        backend.bulk_update("node", [row])
    except ValidationError as exc:
        assert _refusable(label) or _refusable(extras), f"a storable update was refused: {exc}"
        assert ("'label'" in str(exc)) or ("'extras'" in str(exc)), str(exc)
        assert (
            conn.execute("SELECT label, extras, ctime, mtime FROM db_dbnode WHERE id = %s", (pk,)).fetchone()
            == snapshot
        )
        return
    back = conn.execute("SELECT label, extras, ctime FROM db_dbnode WHERE id = %s", (pk,)).fetchone()
    assert back is not None
    assert back[0] == label and _same(extras, back[1]) and back[2] == ctime


@SETTINGS
@given(value=ANY_TEXT, key=ANY_TEXT, number=NUMBERS)
def test_query_filters_match_or_refuse(
    backend: Backend, conn: psycopg.Connection, value: str, key: str, number: Any
) -> None:
    """Any filter value or key: the right rows, or a fastdos error (never a raw driver error)."""
    try:
        found = backend.query().append("node", filters={"label": value}, project="id").all(flat=True)
    except ValidationError as exc:
        assert _bad_text(value), f"a storable filter value was refused: {exc}"
    else:
        assert not _bad_text(value)
        expected = [r[0] for r in conn.execute("SELECT id FROM db_dbnode WHERE label = %s", (value,))]
        assert sorted(found) == sorted(expected)
    for build in (
        lambda: backend.query().append("node", filters={"label": {"like": value}}, project="id"),
        lambda: backend.query().append("node", filters={f"attributes.{key}": value}, project="id"),
        lambda: backend.query().append("node", filters={"attributes": {"has_key": key}}, project="id"),
        lambda: backend.query().append("node", filters={f"attributes.{key}": {">": number}}, project="id"),
        lambda: backend.query().append("node", project=f"attributes.{key}"),
        lambda: backend.query().append("node", tag="n").order_by({"n": f"extras.{key}"}),
    ):
        with contextlib.suppress(FastdosError):
            build().all()


BAD_ROWS = [
    ({"user_id": "1"}, "user_id"),
    ({"user_id": True}, "user_id"),
    ({"user_id": 2**31}, "user_id"),
    ({"label": 5}, "label"),
    ({"label": b"bytes"}, "label"),
    ({"uuid": "not-a-uuid"}, "uuid"),
    ({"uuid": 5}, "uuid"),
    ({"ctime": "2024-01-01"}, "ctime"),
    ({"ctime": 1.5}, "ctime"),
    ({"attributes": {1: 2}}, "attributes"),
    ({"attributes": {"a": {1, 2}}}, "attributes"),
    ({"attributes": {"a": object()}}, "attributes"),
    ({"attributes": {"a": float("nan")}}, "attributes"),
    ({"attributes": {"a": b"bytes"}}, "attributes"),
    ({"extras": {"k\x00": 1}}, "extras"),
    ({"extras": {"k": "\ud800"}}, "extras"),
    ({"description": "\udfff"}, "description"),
    ({"dbcomputer_id": "x"}, "dbcomputer_id"),
]


@pytest.mark.parametrize(("patch", "field"), BAD_ROWS, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD_ROWS)])
def test_wrong_types_are_refused_naming_the_field(
    backend: Backend, conn: psycopg.Connection, patch: dict[str, Any], field: str
) -> None:
    user = insert_user(conn)
    good = {"user_id": user, "label": "ok"}
    with pytest.raises(ValidationError, match=repr(field)):
        backend.bulk_insert("node", [good, good, {**good, **patch}], allow_defaults=True)
    assert _nodes(conn) == 0
    (pk,) = backend.bulk_insert("node", [good], allow_defaults=True)
    if field not in ("uuid", "user_id"):
        with pytest.raises(ValidationError, match=repr(field)):
            backend.bulk_update("node", [{"id": pk, "label": "changed"}, {"id": pk, **patch}])
    assert conn.execute("SELECT label FROM db_dbnode WHERE id = %s", (pk,)).fetchone() == ("ok",)


@pytest.mark.parametrize("bad_id", ["1", 0, -1, 2**31, True, None, 1.0])
def test_bulk_update_bad_ids(backend: Backend, bad_id: Any) -> None:
    with pytest.raises((ValidationError, IntegrityError), match="id"):
        backend.bulk_update("node", [{"id": bad_id, "label": "x"}])


@pytest.mark.parametrize("depth", [100, 400, 5_000, 200_000])
def test_deep_json(backend: Backend, conn: psycopg.Connection, depth: int) -> None:
    user = insert_user(conn)
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": [value]}
    try:
        (pk,) = backend.bulk_insert("node", [{"user_id": user, "attributes": value}], allow_defaults=True)
    except ValidationError as exc:
        assert depth > 400 and "'attributes'" in str(exc) and "deep" in str(exc), str(exc)
        assert _nodes(conn) == 0
        return
    back = conn.execute("SELECT attributes FROM db_dbnode WHERE id = %s", (pk,)).fetchone()
    assert back is not None and back[0] == value


def test_huge_json(backend: Backend, conn: psycopg.Connection) -> None:
    user = insert_user(conn)
    value = {"big": "x" * (8 * 1024**2), "many": list(range(200_000)), "wide": {str(i): i for i in range(50_000)}}
    (pk,) = backend.bulk_insert("node", [{"user_id": user, "attributes": value}], allow_defaults=True)
    back = conn.execute("SELECT attributes FROM db_dbnode WHERE id = %s", (pk,)).fetchone()
    assert back is not None and back[0] == value
