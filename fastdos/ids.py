"""The one validator of entity ids: ints from 1 to 2**31-1 (every ``id`` column of the schema is ``integer``).

``bool`` is refused although it is an ``int`` subclass: ``delete_nodes([True])`` is a bug, not node 1.
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_ID = 2**31 - 1


def is_id(value: object) -> bool:
    """Whether ``value`` can be an id of a row."""
    return type(value) is int and 0 < value <= MAX_ID


def check_ids(values: Iterable[object], what: str = "pk", *, unique: bool = True) -> list[int]:
    """The ids as a list of ints, input order kept; ``unique`` drops repeats (first occurrence wins).

    :raises TypeError: ``values`` is a string or a single int, or an element is not an int (named).
    :raises ValueError: an int outside 1..2**31-1 (named).
    """
    if isinstance(values, (str, bytes, int)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{what}s must be an iterable of ints, not {type(values).__name__} {values!r:.80}")
    result: list[int] = []
    seen: set[int] = set()
    for value in values:
        if not is_id(value):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{what} must be an int, got {type(value).__name__} {value!r:.80}")
            raise ValueError(f"{what} {value} is out of range: ids are integers between 1 and 2**31-1")
        if unique:
            if value in seen:
                continue
            seen.add(value)  # type: ignore[arg-type]
        result.append(value)  # type: ignore[arg-type]
    return result


def array_literal(ids: Iterable[int]) -> str:
    """An ``integer[]`` literal of ``ids`` (already checked), for a statement that casts its parameter
    (``%(ids)s::integer[]``). Sent as text: psycopg dumps a list of 10^5 ints in ~30 ms of Python, the string
    join takes ~3 ms, and PostgreSQL parses either as fast (bench/notes/export.md); 3*10^4 ids cost 29-64 ms
    as a list (bench/notes/graph.md)."""
    return "{" + ",".join(map(str, ids)) + "}"
