"""``FastdosQueryBuilder``: aiida-core's ``SqlaQueryBuilder`` whose queries run as fastdos statements.

``orm.QueryBuilder`` on a fastdos profile hands its query dict to :meth:`FastdosQueryBuilder.count`, ``first``,
``iterall`` and ``iterdict``. Each compiles the dict with :func:`fastdos.aiida.qb_compile.compile_query` and
runs the statement on the psycopg connection of aiida's current session (same transaction: rows the ORM stored
and flushed are visible), converting the results exactly as the parent does (UUIDs as strings, ``'*'`` as
aiida's backend entities loaded through the session, so its identity map is shared). A shape the compiler does
not cover runs through the parent unchanged; every such fallback is logged at DEBUG with the reason and
counted in :attr:`FastdosQueryBuilder.stats`; :attr:`last_plan` says what the last call did.

``as_sql``, ``analyze_query`` and ``get_creation_statistics`` are the parent's (they describe aiida's own SQL).
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, ClassVar

import psycopg
from aiida.orm.implementation.querybuilder import QueryDictType
from aiida.storage.psql_dos.orm.querybuilder.main import SqlaQueryBuilder
from psycopg import sql
from sqlalchemy import Integer, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError

from ..errors import ValidationError
from .qb_compile import Plan, compile_query
from .qb_filters import Unsupported

LOGGER = logging.getLogger("fastdos.aiida.querybuilder")

# Ids per statement when the models of a '*' projection are loaded (one array parameter, so no parameter
# limit): aiida's ORM takes 0.15-0.4 s per 1000 node objects on this machine (bench/notes/aiida_querybuilder.md,
# "entities"), so one extra round trip per 10^4 ids is noise beside it, and the id list stays small.
LOAD_CHUNK = 10_000

_cursor_names = itertools.count()


@dataclass(frozen=True)
class PlanInfo:
    """What one call did: accelerated (fastdos statement) or fallback (aiida's SqlaQueryBuilder) and why."""

    method: str
    accelerated: bool
    shape: str
    features: tuple[str, ...] = ()
    reason: str | None = None
    statement: str | None = None


class FastdosQueryBuilder(SqlaQueryBuilder):  # type: ignore[misc]
    """aiida-core's SqlaQueryBuilder with fastdos' compiler on the hot paths; ``FastdosQueryBuilder(storage)``."""

    # 'accelerated:<method>', 'fallback:<method>' and 'reason:<reason>' -> number of calls (all instances).
    stats: ClassVar[Counter[str]] = Counter()

    def __init__(self, backend: Any) -> None:
        super().__init__(backend)
        self.last_plan: PlanInfo | None = None
        self._built_data: Any = None
        self._built_session: Any = None

    @classmethod
    def reset_stats(cls) -> None:
        """Forget the counts of :attr:`stats`."""
        cls.stats.clear()

    # --- planning ----------------------------------------------------------------------------------------

    def _plan(self, data: QueryDictType, method: str) -> Plan | None:
        try:
            plan = compile_query(data)
        except (Unsupported, ValidationError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        except (KeyError, TypeError, AttributeError) as exc:  # a dict not shaped as aiida makes it
            reason = f"malformed query dict ({type(exc).__name__}: {exc})"
        else:
            self.stats[f"accelerated:{method}"] += 1
            self.last_plan = PlanInfo(method, True, plan.shape, tuple(plan.features))
            return plan
        self.stats[f"fallback:{method}"] += 1
        self.stats[f"reason:{reason}"] += 1
        self.last_plan = PlanInfo(method, False, "", reason=reason)
        LOGGER.debug("QueryBuilder.%s falls back to aiida-core's SqlaQueryBuilder: %s", method, reason)
        return None

    def fastdos_sql(self, data: QueryDictType) -> str | None:
        """The statement fastdos runs for ``data`` (None when it falls back), for reading only."""
        try:
            plan = compile_query(data)
        except (Unsupported, ValidationError):
            return None
        statement, _ = plan.rows_statement()
        return statement.as_string(None)

    def explain(self, data: QueryDictType, *, count: bool = False, analyze: bool = True) -> str:
        """``EXPLAIN [ANALYZE]`` of the statement fastdos runs for ``data`` (its count form with ``count``), on
        the session's connection; the parent's ``analyze_query`` explains aiida's own SQL instead."""
        plan = compile_query(data)
        statement, params = plan.count_statement() if count else plan.rows_statement()
        prefix = sql.SQL("EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN ")
        rows = self._connection().execute(prefix + statement, params, prepare=False).fetchall()
        return "\n".join(str(row[0]) for row in rows)

    # --- the session's connection ------------------------------------------------------------------------

    def _query_session(self, data: QueryDictType) -> Any:
        """The session the parent's cached query of ``data`` is bound to: the parent builds a query once per
        distinct query dict with the session of that moment, and its ``count``/``first`` keep using it, even
        after the storage was reset (aiida-core's tests/orm/test_querybuilder.py relies on that)."""
        if self._built_session is None or self._built_data != data:
            session = self.get_session()  # ClosedStorage on a closed storage, as the parent's build
            self._built_data, self._built_session = data, session
        return self._built_session

    def _connection(self, session: Any = None) -> psycopg.Connection[Any]:
        """The psycopg connection of the session's transaction, after the autoflush aiida's queries do."""
        session = session if session is not None else self.get_session()
        if session.autoflush and not getattr(session, "_flushing", False):
            session.flush()
        driver = session.connection().connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        return driver

    def _batches(
        self, plan: Plan, batch_size: int | None, *, first: bool = False, session: Any = None
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Result rows, all at once (``batch_size`` None, as aiida's buffered execute) or through a server-side
        cursor ``batch_size`` rows at a time (aiida's ``yield_per``)."""
        statement, params = plan.rows_statement(first=first)
        conn = self._connection(session)
        try:
            if batch_size is None:
                # prepare=False: a custom plan per execution, so the JSON path parameters fold into constants and
                # fastdos' expression indexes match (fastdos/query/builder.py does the same).
                rows = conn.execute(statement, params, prepare=False).fetchall()
                if rows:
                    yield rows
                return
            with conn.cursor(name=f"fastdos_aiida_qb_{next(_cursor_names)}") as cursor:
                cursor.execute(statement, params)
                while rows := cursor.fetchmany(batch_size):
                    yield rows
        except psycopg.Error as exc:
            raise _sqlalchemy_error(exc, statement, params) from exc

    def _count(self, plan: Plan, session: Any) -> int:
        statement, params = plan.count_statement()
        conn = self._connection(session)
        try:
            row = conn.execute(statement, params, prepare=False).fetchone()
        except psycopg.Error as exc:
            raise _sqlalchemy_error(exc, statement, params) from exc
        assert row is not None
        return int(row[0])

    # --- results -----------------------------------------------------------------------------------------

    def _models(self, orm_base: str) -> Any:
        return {
            "node": self.Node,
            "group": self.Group,
            "user": self.User,
            "computer": self.Computer,
            "comment": self.Comment,
            "log": self.Log,
            "authinfo": self.AuthInfo,
        }[orm_base]

    def _convert(self, plan: Plan, rows: list[tuple[Any, ...]], session: Any = None) -> list[list[Any]]:
        """Rows as the parent's ``to_backend`` makes them; '*' columns become backend entities of the session."""
        loaded: dict[int, dict[int, Any]] = {}
        for index, orm_base in plan.entities.items():
            ids = sorted({row[index] for row in rows if row[index] is not None})
            loaded[index] = self._load(self._models(orm_base), ids, session or self.get_session())
        out = []
        for row in rows:
            converted = []
            for index, value in enumerate(row):
                if index in loaded:
                    converted.append(None if value is None else self.to_backend(loaded[index][value]))
                else:
                    converted.append(str(value) if isinstance(value, uuid.UUID) else value)
            out.append(converted)
        return out

    def _load(self, model: Any, ids: list[int], session: Any) -> dict[int, Any]:
        """The ORM instances of ``ids`` through the session (its identity map: the same objects aiida returns)."""
        found: dict[int, Any] = {}
        for start in range(0, len(ids), LOAD_CHUNK):
            chunk = ids[start : start + LOAD_CHUNK]
            ids_param = bindparam("fastdos_ids", chunk, type_=ARRAY(Integer))
            for instance in session.execute(select(model).where(model.id == any_(ids_param))).scalars():
                found[instance.id] = instance
        missing = set(ids) - set(found)
        if missing:  # deleted by a concurrent commit between the two statements (READ COMMITTED)
            raise RuntimeError(f"{model.__tablename__} rows {sorted(missing)[:5]} vanished while being loaded")
        return found

    # --- aiida's BackendQueryBuilder interface -----------------------------------------------------------

    def count(self, data: QueryDictType) -> int:
        plan = self._plan(data, "count")
        if plan is None:
            return int(super().count(data))
        try:
            return self._count(plan, self._query_session(data))
        except Exception:
            self.get_session().close()  # as the parent's query_session does
            raise

    def first(self, data: QueryDictType) -> list[Any] | None:
        plan = self._plan(data, "first")
        if plan is None:
            result: list[Any] | None = super().first(data)
            return result
        try:
            session = self._query_session(data)
            for rows in self._batches(plan, None, first=True, session=session):
                return self._convert(plan, rows[:1], session)[0]
            return None
        except Exception:
            self.get_session().close()
            raise

    def iterall(self, data: QueryDictType, batch_size: int | None) -> Iterable[list[Any]]:
        plan = self._plan(data, "iterall")
        if plan is None:
            yield from super().iterall(data, batch_size)
            return
        try:
            self._query_session(data)
            session = self.get_session()
            # The parent's guard: inside a transaction, a row mutated by the caller cannot commit the session.
            with nullcontext() if session.in_nested_transaction() else self._backend.transaction():
                for rows in self._batches(plan, batch_size):
                    yield from self._convert(plan, rows)
        except Exception:
            self.get_session().close()
            raise

    def iterdict(self, data: QueryDictType, batch_size: int | None) -> Iterable[dict[str, dict[str, Any]]]:
        plan = self._plan(data, "iterdict")
        if plan is None:
            yield from super().iterdict(data, batch_size)
            return
        try:
            self._query_session(data)
            session = self.get_session()
            with nullcontext() if session.in_nested_transaction() else self._backend.transaction():
                for rows in self._batches(plan, batch_size):
                    for row in self._convert(plan, rows):
                        result: dict[str, dict[str, Any]] = {}
                        for tag, key, index in plan.dict_shape:
                            result.setdefault(tag, {})[key] = row[index]
                        yield result
        except Exception:
            self.get_session().close()
            raise


def _sqlalchemy_error(exc: psycopg.Error, statement: sql.Composed, params: dict[str, Any]) -> BaseException:
    """The SQLAlchemy exception aiida's own builder raises for this driver error (DataError, ProgrammingError...)."""
    return DBAPIError.instance(statement.as_string(None), params, exc, psycopg.Error)
