"""Read replicas: which server a read runs on, decided in one place (docs/replicas.md).

:class:`fastdos.Backend` opens two contexts when its profile lists replicas (:mod:`fastdos.replica_config`):

* :class:`PrimaryContext` — the primary's pooled context (writes, ``transaction()``, locks, migrations). It
  notes the primary's WAL insert position after every unit of work, for read-your-writes.
* :class:`ReadContext` — handed to the read-only services (queries, collections, traversals, dry runs,
  ``get_info``, export). Its ``connection()`` is a replica's connection when one is usable; its
  ``transaction()`` (a unit of work, which may write: a collection's delete, a traversal's temp tables) is
  always the primary's, and inside the primary's transaction every read stays on the primary.

A replica is usable for a read when it answers, is a standby (``pg_is_in_recovery()``), its replay lag is
within ``max_lag_seconds``, and it has replayed past this backend's last write. Its state is read on the
connection the read is about to use and cached for :data:`LAG_CHECK_INTERVAL_S`. A replica that is down,
lagging or not a standby makes reads go to the primary with one warning (when it becomes unusable), never an
error; a replica that refuses the credentials, or is a copy of another cluster, is a configuration error
naming the replica.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import db
from .context import PooledContext
from .errors import ConfigurationError, FastdosError, UnreachableStorage

if TYPE_CHECKING:
    from .locking import ProfileAccess
    from .profile import Profile
    from .replica_config import ReplicaConfig
    from .repository import Repository

LOGGER = logging.getLogger("fastdos.replicas")

READ_MODES = ("primary", "replica", "auto")

# How long a replica's replay state is trusted. Reading it is one round trip on the connection the read
# uses and one on the primary for the lag clock (0.04-0.7 ms together on loopback here, depending on the
# machine's load, bench/notes/replicas.md); cached, the per-call cost of routing is 4-6 µs.
LAG_CHECK_INTERVAL_S = 0.25
# A replica that could not be reached is tried again after this long (a refused connection fails at once, a
# silent host only after the connect timeout below, which each retry would cost a read).
DOWN_RETRY_S = 5.0
REPLICA_CONNECT_TIMEOUT_S = 2
# A read waits this long for a replica connection before going to the primary instead.
REPLICA_POOL_TIMEOUT_S = 5.0

# WAL page size (PostgreSQL's default XLOG_BLCKSZ) and the sizes of its short and long page headers.
WAL_PAGE_BYTES = 8192
WAL_PAGE_HEADERS = (24, 40)

UNKNOWN_LSN = 2**63 - 1  # no replica has replayed this far: reads go to the primary

# The lag clock keeps the primary's WAL positions of the last max_lag_seconds plus this margin.
CLOCK_MARGIN_S = 10.0

_AUTH_FAILURES = ("password authentication failed", "authentication failed", "no password supplied")


@dataclass(frozen=True)
class ReplicaStatus:
    """One replica as ``get_info`` and ``fastdos info`` show it."""

    name: str
    dsn: str
    state: str  # "ok", "catching up", "behind our writes", "lagging", "down", "not a standby", "not checked"
    lag_seconds: float | None
    replay_lsn: int | None
    in_use: bool
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"dsn": self.dsn, "state": self.state, "in use": self.in_use}
        shown["lag (s)"] = None if self.lag_seconds is None else round(self.lag_seconds, 3)
        if self.reason:
            shown["reason"] = self.reason
        return shown


def _is_auth_failure(exc: BaseException) -> bool:
    return any(text in str(exc) for text in _AUTH_FAILURES)


class ReplicaLink:
    """One replica: its pool (opened on the first successful connection), its cached replay state, and
    whether the warning about it being unusable was given."""

    def __init__(self, config: ReplicaConfig, profile: Profile, pool_max: int, system_id: int) -> None:
        self.config = config
        self._conninfo = config.conninfo(profile.storage_config.get("database_name"))
        self._pool_max = pool_max
        self._system_id = system_id
        self._application = f"fastdos:{profile.name}:replica"[:63]
        self.database: db.Database | None = None
        self.state = "not checked"
        self.reason = ""
        self.lag: float | None = None
        self.replay_lsn: int | None = None
        self.checked_at = -math.inf
        self.down_at = -math.inf
        self.catching_up_since: float | None = None
        self._warned = False
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return f"replica {self.config.name!r} ({self.config.safe_dsn()})"

    def connect(self) -> bool:
        """Open the pool when it is not open; False (and marked down) when the replica cannot be reached.

        :raises ConfigurationError: the replica refused the credentials, or is not a copy of the primary.
        """
        if self.database is not None:
            return True
        database = db.Database(
            self._conninfo,
            password=self.config.password,
            max_size=self._pool_max,
            timeout=REPLICA_POOL_TIMEOUT_S,
            application_name=self._application,
        )
        try:
            database.open(connect_timeout=REPLICA_CONNECT_TIMEOUT_S)
            with database.connection() as conn:
                system_id = int(db.scalar(conn, "replicas/system_identifier"))
        except FastdosError as exc:
            database.close()
            if _is_auth_failure(exc):
                raise ConfigurationError(
                    f"{self.label} refused the credentials: {exc}; fix this replica's entry of the profile "
                    "(its password belongs in a password or service file)"
                ) from None
            self.mark_down(str(exc))
            return False
        if system_id != self._system_id:
            database.close()
            raise ConfigurationError(
                f"{self.label} is not a copy of the primary (cluster system identifier {system_id}, the "
                f"primary's is {self._system_id}); point it at a standby of the primary"
            )
        self.database = database
        return True

    def close(self) -> None:
        if self.database is not None:
            self.database.close()

    def mark_down(self, reason: str) -> None:
        """Unreachable: reads go elsewhere until :data:`DOWN_RETRY_S` has passed."""
        self.down_at = time.monotonic()
        self._set("down", " ".join(reason.split()), None, None)  # libpq's reasons span lines

    def refresh(self, conn: db.Connection, max_lag: float, clock: WalClock) -> None:
        """Read the replay state on ``conn`` (a connection to this replica) and judge it."""
        row = db.one(conn, "replicas/replay_state")
        assert row is not None
        in_recovery, replay_lsn = row
        if not in_recovery or replay_lsn is None:
            self._set("not a standby", "pg_is_in_recovery() is false: it was promoted, or it is a primary", None, None)
            return
        most, least = clock.bounds(int(replay_lsn))
        now = time.monotonic()
        if most <= max_lag:
            self.catching_up_since = None
            self._set("ok", "", most, replay_lsn)
            return
        self.catching_up_since = self.catching_up_since or now
        if least > max_lag or now - self.catching_up_since > max_lag:
            shown = least if math.isinf(most) else most
            self._set("lagging", f"replay lag {shown:.3g} s is over the bound of {max_lag:g} s", shown, replay_lsn)
        else:
            # Behind the primary's last sampled position, for less than the bound as far as we know (a write
            # after a long idle time, say): not used for this read, read again on the next one, no warning.
            self._set("catching up", "", least, replay_lsn)
            self.checked_at = -math.inf

    def _set(self, state: str, reason: str, lag: float | None, replay_lsn: int | None) -> None:
        with self._lock:
            self.state, self.reason = state, reason
            self.lag = None if lag is None else float(lag)
            self.replay_lsn = None if replay_lsn is None else int(replay_lsn)
            self.checked_at = time.monotonic()
            if state == "ok":
                if self._warned:
                    LOGGER.info("%s is usable again; reads go to it", self.label)
                self._warned = False
            elif state != "catching up" and not self._warned:
                self._warned = True
                LOGGER.warning("%s is %s (%s); reads go to the primary until it is usable", self.label, state, reason)

    def serves(self, write_lsn: int) -> bool:
        """Usable by the cached state, and replayed past ``write_lsn``."""
        return self.state == "ok" and self.replay_lsn is not None and self.replay_lsn >= write_lsn


class WalClock:
    """Recent (time, WAL position) samples of the primary: how stale the state a replica shows can be.

    The primary is sampled just before each replica check and after each write of this backend. A replica
    that has replayed up to position P lags at most since the newest sample at or below P, and at least since
    the oldest sample past P; 0 when P is at or past the newest sample. Measured this way, a replica of an idle
    primary whose only new WAL is a checkpoint record does not look minutes behind (the age of its last
    replayed commit, ``pg_last_xact_replay_timestamp()``, would), and one stuck behind a write is found lagging
    within the bound plus one check interval.
    """

    def __init__(self, keep_seconds: float) -> None:
        self._keep = keep_seconds
        self._samples: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def add(self, lsn: int) -> None:
        """The primary is at ``lsn`` now."""
        now = time.monotonic()
        with self._lock:
            if self._samples and lsn <= self._samples[-1][1]:
                self._samples[-1] = (now, self._samples[-1][1])  # still there: the sample is dated now
                return
            self._samples.append((now, lsn))
            # Keep the window, plus the newest sample older than it (a bound for positions below).
            while len(self._samples) > 2 and now - self._samples[1][0] > self._keep:
                self._samples.popleft()

    def bounds(self, replay_lsn: int) -> tuple[float, float]:
        """(at most, at least) seconds of lag of a replica at ``replay_lsn``.

        At most: since the newest sample at or below it (the primary was still there then; infinite when
        there is none). At least: since the oldest sample past it (the primary had moved on by then).
        """
        now = time.monotonic()
        with self._lock:
            if not self._samples or replay_lsn >= self._samples[-1][1]:
                return 0.0, 0.0
            below = [at for at, lsn in self._samples if lsn <= replay_lsn]
            past = [at for at, lsn in self._samples if lsn > replay_lsn]
            return (now - below[-1] if below else math.inf), now - past[0]


class ReplicaRouter:
    """The replicas of one backend, in preference order, and the WAL position of its last write."""

    def __init__(self, profile: Profile, primary: db.Database, pool_max: int) -> None:
        self._primary = primary
        self.max_lag = float(profile.replicas.max_lag_seconds)
        with primary.connection() as conn:
            system_id = int(db.scalar(conn, "replicas/system_identifier"))
        self.links = [ReplicaLink(c, profile, pool_max, system_id) for c in profile.replicas.servers]
        self.clock = WalClock(self.max_lag + CLOCK_MARGIN_S)
        self.sample_primary()  # a first sample: the first check then has a position to date the replica's by
        self.write_lsn = 0
        self.routed = 0  # reads served by a replica (for tests and benchmarks)
        try:
            for link in self.links:
                link.connect()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for link in self.links:
            link.close()

    def note_write(self, conn: db.Connection) -> None:
        """Remember the primary's WAL insert position after a unit of work (read-your-writes).

        Runs after the work succeeded (a commit, say): when the position cannot be read, the work is not
        reported as failed; reads stay on the primary until a later position is read.
        """
        try:
            lsn = int(db.scalar(conn, "replicas/insert_lsn"))
        except FastdosError as exc:
            LOGGER.debug("WAL position after a write unknown (%s); reads stay on the primary", exc)
            self.write_lsn = UNKNOWN_LSN
            return
        self.clock.add(lsn)
        if lsn % WAL_PAGE_BYTES in WAL_PAGE_HEADERS:
            # The insert position skips a new page's header; a standby that replayed up to the page boundary
            # has all there is, and would otherwise look behind until the next record arrives.
            lsn -= lsn % WAL_PAGE_BYTES
        if lsn > self.write_lsn or self.write_lsn == UNKNOWN_LSN:
            self.write_lsn = lsn

    def replica_connection(self, stack: ExitStack) -> db.Connection | None:
        """A connection to the first usable replica, held by ``stack``; None when reads must go to the primary."""
        now = time.monotonic()
        for link in self.links:
            if link.state == "down" and now - link.down_at < DOWN_RETRY_S:
                continue
            fresh = now - link.checked_at < LAG_CHECK_INTERVAL_S
            if fresh and link.state != "ok":
                continue  # lagging or not a standby a moment ago
            # Behind our last write by the cached state: read its state again (it may have caught up).
            conn = self._checkout(link, stack, refresh=not fresh or not link.serves(self.write_lsn))
            if conn is not None:
                self.routed += 1
                return conn
        return None

    def sample_primary(self) -> None:
        """One (time, WAL insert position) sample of the primary for the lag measure."""
        try:
            with self._primary.connection() as conn:
                self.clock.add(int(db.scalar(conn, "replicas/insert_lsn")))
        except FastdosError as exc:
            LOGGER.debug("could not sample the primary's WAL position: %s", exc)

    def _checkout(self, link: ReplicaLink, stack: ExitStack, *, refresh: bool) -> db.Connection | None:
        if not link.connect():
            return None
        if refresh:
            self.sample_primary()  # before the replica's position is read: the lag is never underestimated
        assert link.database is not None
        inner = ExitStack()
        try:
            conn = inner.enter_context(link.database.connection())
            if refresh:
                link.refresh(conn, self.max_lag, self.clock)
        except UnreachableStorage as exc:
            inner.close()
            link.mark_down(str(exc))
            return None
        except FastdosError as exc:
            inner.close()
            link.mark_down(f"its replay state could not be read: {exc}")
            return None
        if not link.serves(self.write_lsn):
            inner.close()
            return None
        stack.callback(inner.close)
        return conn

    def status(self, refresh: bool = True) -> list[ReplicaStatus]:
        """Every replica's state (read afresh when ``refresh``) and which one reads use now."""
        if refresh:
            for link in self.links:
                if link.connect():
                    with ExitStack() as stack:
                        self._checkout(link, stack, refresh=True)
        chosen = next((link for link in self.links if link.serves(self.write_lsn)), None)
        return [
            ReplicaStatus(
                link.config.name,
                link.config.safe_dsn(),
                "behind our writes" if link.state == "ok" and not link.serves(self.write_lsn) else link.state,
                link.lag,
                link.replay_lsn,
                link is chosen,
                link.reason,
            )
            for link in self.links
        ]


class PrimaryContext(PooledContext):
    """The primary's pooled context, noting the WAL position after each outermost unit of work."""

    def __init__(
        self,
        profile: Profile,
        database: db.Database,
        repository: Repository,
        access: ProfileAccess | None,
        router: ReplicaRouter,
    ) -> None:
        super().__init__(profile, database, repository, access)
        self.router = router

    @contextmanager
    def transaction(self) -> Iterator[db.Connection]:
        outermost = not self.database.in_transaction
        with self.database.transaction() as conn:
            yield conn
        if outermost:
            try:
                with self.database.connection() as after:
                    self.router.note_write(after)
            except FastdosError:  # the commit succeeded; only the position is unknown
                self.router.write_lsn = UNKNOWN_LSN

    @contextmanager
    def connection(self) -> Iterator[db.Connection]:
        outermost = not self.database.in_transaction
        with self.database.connection() as conn:
            yield conn
            if outermost:  # autocommit work (DDL, maintenance) on the primary
                self.router.note_write(conn)


class ReadContext:
    """The context of the read-only services: reads on a usable replica, units of work on the primary."""

    def __init__(self, primary: PrimaryContext) -> None:
        self._primary = primary
        self.router = primary.router

    @property
    def profile(self) -> Profile:
        return self._primary.profile

    @property
    def repository(self) -> Repository:
        return self._primary.repository

    @property
    def access(self) -> ProfileAccess | None:
        return self._primary.access

    @property
    def in_transaction(self) -> bool:
        return self._primary.in_transaction

    @property
    def owns_transactions(self) -> bool:
        return True

    @contextmanager
    def connection(self) -> Iterator[db.Connection]:
        if not self._primary.in_transaction:
            with ExitStack() as stack:
                conn = self.router.replica_connection(stack)
                if conn is not None:
                    yield conn
                    return
        with self._primary.database.connection() as conn:
            yield conn

    def transaction(self) -> AbstractContextManager[db.Connection]:
        return self._primary.transaction()

    def check_open(self) -> None:
        self._primary.check_open()


@dataclass(frozen=True)
class Routing:
    """What a backend runs on: the primary's context, the read-only services' context, the router (if any)."""

    primary: PooledContext
    reads: PooledContext | ReadContext
    router: ReplicaRouter | None

    def close(self) -> None:
        if self.router is not None:
            self.router.close()

    def status(self) -> list[ReplicaStatus]:
        return [] if self.router is None else self.router.status()


def open_routing(
    profile: Profile,
    reads: str,
    database: db.Database,
    repository: Repository,
    access: ProfileAccess | None,
    pool_max: int,
) -> Routing:
    """The contexts of a backend with read mode ``reads`` ("primary", "replica" or "auto").

    :raises ValueError: an unknown mode.
    :raises ConfigurationError: ``reads="replica"`` on a profile without replicas; a replica that refuses
        the credentials or is not a standby of the primary.
    """
    if reads not in READ_MODES:
        raise ValueError(f"reads must be one of {', '.join(READ_MODES)}, got {reads!r}")
    if reads == "replica" and not profile.replicas.servers:
        raise ConfigurationError(
            f"reads='replica' but profile {profile.name!r} lists no replicas; add one (fastdos server replica "
            "create, or the profile's replicas section) or use reads='primary'"
        )
    if reads == "primary" or not profile.replicas.servers:
        plain = PooledContext(profile, database, repository, access)
        return Routing(plain, plain, None)
    router = ReplicaRouter(profile, database, pool_max)
    primary = PrimaryContext(profile, database, repository, access, router)
    return Routing(primary, ReadContext(primary), router)
