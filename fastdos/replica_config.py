"""The read replicas of a profile: where they are and how much replay lag reads accept (docs/replicas.md).

A profile's ``replicas`` section in ``config.json``::

    "replicas": {
      "max_lag_seconds": 5.0,
      "servers": [
        {"name": "r1", "dsn": "host=db2.example port=5432 user=aiida passfile=/home/me/.pgpass"},
        {"name": "local", "dsn": "host=/var/lib/fastdos/r1 port=5433 user=postgres",
         "embedded": {"data_dir": "/var/lib/fastdos/r1", "port": 5433}}
      ]
    }

A ``dsn`` is a libpq connection string or URL; its database defaults to the profile's. It carries no password:
libpq reads it from a password file (``passfile=``, ``PGPASSFILE``, ``~/.pgpass``) or a service file
(``service=``), so nothing secret is written into ``config.json``; :func:`fastdos.profile.save_profile`
refuses a replica DSN that holds one. A password given in memory (``Profile`` built in code) is masked in
every printed form. ``embedded`` marks a standby that fastdos created (``fastdos server replica create``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .errors import ConfigurationError, scrub

# Replay lag a read accepts when the profile sets none. A standby on the same machine replays within
# milliseconds (bench/notes/replicas.md); 5 s keeps reads on it through a checkpoint or a bulk COPY.
DEFAULT_MAX_LAG_SECONDS = 5.0

REPLICA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class EmbeddedReplica:
    """A hot standby of the profile's embedded cluster that fastdos created and runs."""

    data_dir: Path
    port: int


@dataclass(frozen=True)
class ReplicaConfig:
    """One read replica: a name (used in every message about it), a DSN and, when fastdos runs it, where."""

    name: str
    dsn: str = field(repr=False)
    embedded: EmbeddedReplica | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not REPLICA_NAME.match(self.name):
            raise ConfigurationError(
                f"invalid replica name {self.name!r}: letters, digits, '_', '-' and '.', "
                "starting with a letter or digit"
            )
        try:
            conninfo_to_dict(self.dsn)
        except Exception as exc:
            raise ConfigurationError(f"replica {self.name!r}: invalid DSN ({type(exc).__name__})") from None

    @property
    def password(self) -> str | None:
        """A password written into the DSN itself (discouraged; never printed)."""
        value = conninfo_to_dict(self.dsn).get("password")
        return str(value) if value else None

    def conninfo(self, default_dbname: str | None) -> str:
        """The libpq conninfo of the replica, its database defaulting to the primary's."""
        params = conninfo_to_dict(self.dsn)
        if not params.get("dbname") and default_dbname:
            params["dbname"] = default_dbname
        return make_conninfo("", **params)

    def safe_dsn(self) -> str:
        """The DSN with any password masked."""
        params = {k: ("***" if k == "password" else v) for k, v in conninfo_to_dict(self.dsn).items()}
        return scrub(make_conninfo("", **params), self.password)

    def __repr__(self) -> str:
        return f"ReplicaConfig(name={self.name!r}, dsn={self.safe_dsn()!r}, embedded={self.embedded!r})"

    __str__ = __repr__

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "dsn": self.dsn}
        if self.embedded is not None:
            data["embedded"] = {"data_dir": str(self.embedded.data_dir), "port": self.embedded.port}
        return data


@dataclass(frozen=True)
class ReplicaSet:
    """The replicas of a profile, in preference order, and the replay lag their reads accept."""

    servers: tuple[ReplicaConfig, ...] = ()
    max_lag_seconds: float = DEFAULT_MAX_LAG_SECONDS

    def __post_init__(self) -> None:
        lag = self.max_lag_seconds
        if isinstance(lag, bool) or not isinstance(lag, int | float) or not math.isfinite(lag) or lag < 0:
            raise ConfigurationError(f"max_lag_seconds must be a number >= 0, got {lag!r}")
        names = [r.name for r in self.servers]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"replica names must be unique, got {names}")

    def named(self, name: str) -> ReplicaConfig:
        """The replica called ``name``; ConfigurationError listing the known ones otherwise."""
        for replica in self.servers:
            if replica.name == name:
                return replica
        raise ConfigurationError(f"no replica named {name!r}; known replicas: {[r.name for r in self.servers]}")

    def with_replica(self, replica: ReplicaConfig) -> ReplicaSet:
        """This set plus ``replica`` (refused when its name is taken)."""
        if any(r.name == replica.name for r in self.servers):
            raise ConfigurationError(f"a replica named {replica.name!r} already exists")
        return ReplicaSet((*self.servers, replica), self.max_lag_seconds)

    def without(self, name: str) -> ReplicaSet:
        """This set without the replica called ``name``."""
        self.named(name)
        return ReplicaSet(tuple(r for r in self.servers if r.name != name), self.max_lag_seconds)

    def to_dict(self) -> dict[str, Any]:
        return {"max_lag_seconds": self.max_lag_seconds, "servers": [r.to_dict() for r in self.servers]}

    @classmethod
    def from_dict(cls, data: Any) -> ReplicaSet:
        """Parse the ``replicas`` section of a profile; a clear ConfigurationError for a malformed one."""
        if not isinstance(data, dict):
            raise ConfigurationError("the replicas section of a profile must be an object")
        servers = data.get("servers", [])
        if not isinstance(servers, list):
            raise ConfigurationError("replicas.servers must be a list")
        parsed = []
        for entry in servers:
            if not isinstance(entry, dict) or not isinstance(entry.get("dsn"), str):
                raise ConfigurationError(f"each replica needs a name and a dsn string, got {scrub(repr(entry))}")
            embedded = None
            if entry.get("embedded"):
                emb = entry["embedded"]
                embedded = EmbeddedReplica(Path(emb["data_dir"]), int(emb["port"]))
            parsed.append(ReplicaConfig(entry.get("name", ""), entry["dsn"], embedded))
        return cls(tuple(parsed), data.get("max_lag_seconds", DEFAULT_MAX_LAG_SECONDS))

    def check_storable(self) -> None:
        """Refuse to write a password into config.json: libpq's password or service file holds it instead."""
        for replica in self.servers:
            if replica.password:
                raise ConfigurationError(
                    f"replica {replica.name!r}: its DSN holds a password, which would be written into config.json "
                    "in clear; put it in a password file (passfile=..., PGPASSFILE or ~/.pgpass) or a service "
                    "file (service=...) and leave it out of the DSN"
                )
