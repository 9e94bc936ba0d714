"""Profiles: where a storage lives (database connection + repository folder).

``Profile(name, storage_config)`` takes AiiDA's storage configuration keys
(docs/storage-backend.md#profile-configuration), so a profile read from an AiiDA ``config.json``
(:meth:`Profile.from_aiida`) and one of fastdos' own
(``$FASTDOS_HOME/config.json``, :func:`load_profile`) are the same object. An *embedded* profile names a
data directory for fastdos' own PostgreSQL cluster (:mod:`fastdos.server`), which is started on first use.

A password never appears in ``str()``/``repr()`` of a profile or in any message built from it.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, cast
from urllib.parse import unquote, urlparse

from psycopg.conninfo import make_conninfo

from .errors import ConfigurationError
from .replica_config import ReplicaSet

DEFAULT_PROFILE_NAME = "default"
# The default user of a profile that names none (aiida-core's `verdi presto` default).
DEFAULT_USER_EMAIL = "aiida@localhost"
# Name of the socket file is `.s.PGSQL.<port>`; the embedded cluster listens on no TCP port by default.
EMBEDDED_PORT = 5432


class PsqlConfig(TypedDict, total=False):
    """AiiDA's ``core.psql_dos`` storage configuration (``profiles.<name>.storage.config``)."""

    database_engine: str
    database_hostname: str | None
    database_port: int | None
    database_username: str
    database_password: str
    database_name: str
    repository_uri: str
    engine_kwargs: dict[str, Any]


@dataclass(frozen=True)
class EmbeddedConfig:
    """Where fastdos' own PostgreSQL cluster for a profile lives."""

    data_dir: Path
    port: int = EMBEDDED_PORT
    tcp: bool = False


def fastdos_home() -> Path:
    """``$FASTDOS_HOME`` or ``~/.fastdos``."""
    return Path(os.environ.get("FASTDOS_HOME") or Path.home() / ".fastdos").expanduser().absolute()


@dataclass
class Profile:
    """A named storage: database settings plus ``repository_uri``; optionally an embedded cluster."""

    name: str
    storage_config: PsqlConfig
    embedded: EmbeddedConfig | None = None
    uuid: str = field(default_factory=lambda: uuid.uuid4().hex)
    default_user_email: str | None = None
    storage_backend: str = "core.psql_dos"
    replicas: ReplicaSet = field(default_factory=ReplicaSet)

    # --- derived values --------------------------------------------------------------------------------

    @property
    def user_email(self) -> str:
        """The email of the profile's default user: ``default_user_email``, else ``FASTDOS_USER_EMAIL``, else
        ``aiida@localhost`` (what ``verdi presto`` uses when no email is given)."""
        return self.default_user_email or os.environ.get("FASTDOS_USER_EMAIL") or DEFAULT_USER_EMAIL

    @property
    def password(self) -> str | None:
        """The database password (kept out of every printed form of the profile)."""
        return self.storage_config.get("database_password") or None

    def conninfo(self, dbname: str | None = None) -> str:
        """A libpq connection string for the profile's database (or ``dbname`` on the same server)."""
        cfg = self.storage_config
        params: dict[str, Any] = {
            "host": cfg.get("database_hostname") or None,
            "port": cfg.get("database_port") or None,
            "user": cfg.get("database_username") or None,
            "password": cfg.get("database_password") or None,
            "dbname": dbname or cfg.get("database_name") or None,
        }
        return make_conninfo("", **{k: v for k, v in params.items() if v is not None})

    def safe_url(self) -> str:
        """The engine URL as aiida prints it, with the password masked."""
        cfg = self.storage_config
        user = cfg.get("database_username") or ""
        host = cfg.get("database_hostname") or ""
        port = cfg.get("database_port")
        credentials = f"{user}:***@" if cfg.get("database_password") else f"{user}@" if user else ""
        return f"postgresql+psycopg://{credentials}{host}{f':{port}' if port else ''}/{cfg.get('database_name', '')}"

    @property
    def repository_path(self) -> Path:
        """The folder named by ``repository_uri``; ``KeyError`` when missing, ConfigurationError when bad."""
        uri = self.storage_config["repository_uri"]
        parsed = urlparse(uri)
        if parsed.scheme != "file":
            raise ConfigurationError(f"invalid repository_uri {uri!r}: the scheme must be `file`")
        path = Path(unquote(parsed.path))
        if parsed.netloc or not path.is_absolute():
            raise ConfigurationError(f"invalid repository_uri {uri!r}: the path must be absolute")
        return path

    @property
    def container_path(self) -> Path:
        """The disk-objectstore container folder: ``<repository>/container``."""
        return self.repository_path / "container"

    def __repr__(self) -> str:
        shown = {k: ("***" if k == "database_password" and v else v) for k, v in self.storage_config.items()}
        extra = f", replicas={list(self.replicas.servers)!r}" if self.replicas.servers else ""
        return f"Profile(name={self.name!r}, storage_config={shown!r}, embedded={self.embedded!r}{extra})"

    __str__ = __repr__

    # --- serialisation ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The profile in AiiDA's ``config.json`` shape plus an ``embedded`` section."""
        data: dict[str, Any] = {
            "PROFILE_UUID": self.uuid,
            "storage": {"backend": self.storage_backend, "config": dict(self.storage_config)},
        }
        if self.default_user_email:
            data["default_user_email"] = self.default_user_email
        if self.embedded:
            data["embedded"] = {
                "data_dir": str(self.embedded.data_dir),
                "port": self.embedded.port,
                "tcp": self.embedded.tcp,
            }
        if self.replicas.servers:
            data["replicas"] = self.replicas.to_dict()
        return data

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> Profile:
        """Build a profile from its ``config.json`` entry (AiiDA's or fastdos')."""
        storage = data.get("storage") or {}
        backend = storage.get("backend", "core.psql_dos")
        if backend not in ("core.psql_dos", "fastdos"):
            raise ConfigurationError(
                f"profile {name!r} uses storage backend {backend!r}; fastdos reads only core.psql_dos storages"
            )
        embedded = None
        if data.get("embedded"):
            emb = data["embedded"]
            embedded = EmbeddedConfig(
                Path(emb["data_dir"]), int(emb.get("port", EMBEDDED_PORT)), bool(emb.get("tcp", False))
            )
        return cls(
            name=name,
            storage_config=cast(PsqlConfig, dict(storage.get("config", {}))),
            embedded=embedded,
            uuid=data.get("PROFILE_UUID") or uuid.uuid4().hex,
            default_user_email=data.get("default_user_email"),
            storage_backend=backend,
            replicas=ReplicaSet.from_dict(data["replicas"]) if data.get("replicas") else ReplicaSet(),
        )

    @classmethod
    def from_aiida(cls, name: str | None = None, config_dir: Path | str | None = None) -> Profile:
        """Read profile ``name`` (default: AiiDA's default profile) from an AiiDA ``config.json``.

        ``config_dir`` is the ``.aiida`` folder; without it, AiiDA's own lookup applies: the first entry of
        ``AIIDA_PATH`` (``:``-separated) holding a ``.aiida`` folder, else ``~/.aiida``.
        """
        folder = Path(config_dir) if config_dir else aiida_config_dir()
        path = folder / "config.json"
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigurationError(f"no AiiDA configuration at {path}") from None
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"AiiDA configuration {path} is not valid JSON: {exc}") from exc
        profiles = config.get("profiles") or {}
        name = name or config.get("default_profile")
        if not name or name not in profiles:
            raise ConfigurationError(
                f"profile {name!r} not found in {path}; known profiles: {sorted(profiles)}"
            )
        return cls.from_dict(name, profiles[name])

    @classmethod
    def from_dsn(cls, name: str, dsn: str, repository: Path | str) -> Profile:
        """A profile for an existing server: a libpq DSN (``key=value`` or ``postgresql://``) + a folder."""
        from psycopg.conninfo import conninfo_to_dict

        try:
            params = conninfo_to_dict(dsn)
        except Exception as exc:
            raise ConfigurationError(f"invalid DSN: {type(exc).__name__}") from None
        repository_path = Path(repository).expanduser().absolute()
        config = PsqlConfig(
            database_engine="postgresql_psycopg",
            database_hostname=str(params.get("host") or "") or None,
            database_port=int(str(params["port"])) if params.get("port") else None,
            database_username=str(params.get("user") or ""),
            database_password=str(params.get("password") or ""),
            database_name=str(params.get("dbname") or name),
            repository_uri=repository_path.as_uri(),
        )
        return cls(name=name, storage_config=config)

    @classmethod
    def embedded_profile(cls, name: str = DEFAULT_PROFILE_NAME, home: Path | None = None) -> Profile:
        """A profile on fastdos' own cluster: ``<home>/pgdata`` and ``<home>/repository`` (default profile)."""
        home = home or fastdos_home()
        folder = home if name == DEFAULT_PROFILE_NAME else home / "profiles" / name
        data_dir = home / "pgdata"
        config = PsqlConfig(
            database_engine="postgresql_psycopg",
            database_hostname=str(data_dir),
            database_port=EMBEDDED_PORT,
            database_username="postgres",
            database_password="",
            database_name=f"fastdos_{name}",
            repository_uri=(folder / "repository").as_uri(),
        )
        return cls(name=name, storage_config=config, embedded=EmbeddedConfig(data_dir))


def aiida_config_dir() -> Path:
    """AiiDA's configuration folder, following its ``AIIDA_PATH`` rules."""
    for entry in filter(None, os.environ.get("AIIDA_PATH", "").split(os.pathsep)):
        candidate = Path(entry).expanduser()
        if candidate.name != ".aiida":
            candidate = candidate / ".aiida"
        if candidate.is_dir():
            return candidate
    return Path.home() / ".aiida"


# --- fastdos' own profile store ------------------------------------------------------------------------


def config_path() -> Path:
    """``$FASTDOS_HOME/config.json``."""
    return fastdos_home() / "config.json"


def _read_config() -> dict[str, Any]:
    path = config_path()
    if not path.exists():
        return {"profiles": {}}
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"fastdos configuration {path} is not valid JSON: {exc}") from exc
    data.setdefault("profiles", {})
    return data


def load_profile(name: str | None = None) -> Profile:
    """Profile ``name`` from ``$FASTDOS_HOME/config.json``; without a name, the default profile.

    The default profile (``default``, embedded) exists implicitly even before it is saved.
    """
    config = _read_config()
    name = name or config.get("default_profile") or DEFAULT_PROFILE_NAME
    if name in config["profiles"]:
        return Profile.from_dict(name, config["profiles"][name])
    if name == DEFAULT_PROFILE_NAME:
        return Profile.embedded_profile()
    raise ConfigurationError(
        f"profile {name!r} not found in {config_path()}; known profiles: {sorted(config['profiles'])}"
    )


def save_profile(profile: Profile, *, make_default: bool = False) -> Path:
    """Write ``profile`` into ``$FASTDOS_HOME/config.json`` (file mode 0600: it may hold a password)."""
    profile.replicas.check_storable()
    config = _read_config()
    config["profiles"][profile.name] = profile.to_dict()
    if make_default or not config.get("default_profile"):
        config["default_profile"] = profile.name
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(config, handle, indent=2, sort_keys=True)
    os.replace(tmp, path)
    return path


def saved_profile_names() -> set[str]:
    """Names of the profiles written into fastdos' configuration (the implicit default is not among them
    until ``fastdos init`` saves it)."""
    return set(_read_config()["profiles"])


def list_profiles() -> list[str]:
    """Names of the profiles in fastdos' configuration (``default`` always included)."""
    names = set(_read_config()["profiles"]) | {DEFAULT_PROFILE_NAME}
    return sorted(names)


__all__ = [
    "EmbeddedConfig",
    "Profile",
    "PsqlConfig",
    "aiida_config_dir",
    "fastdos_home",
    "list_profiles",
    "load_profile",
    "save_profile",
    "saved_profile_names",
]
