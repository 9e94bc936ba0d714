"""Hot standbys of a profile's embedded cluster: made with ``pg_basebackup``, run like the cluster itself.

``fastdos server replica create`` (:func:`create_replica`) prepares the primary once — the replication role
:data:`REPLICATION_ROLE` and a ``pg_hba.conf`` entry that lets only that role stream, only over the primary's
unix socket (its directory is the 0700 data directory, so only the server's own user and root can reach it)
— then copies the cluster with the wheel's ``pg_basebackup`` into a new data directory (as the unprivileged
server user when fastdos runs as root, exactly as :class:`fastdos.server.EmbeddedServer` runs ``initdb``),
with a physical replication slot so the primary keeps the WAL the standby has not received, and
``standby.signal`` + ``primary_conninfo`` written by ``pg_basebackup -R``. The standby then starts through
``EmbeddedServer`` and is registered in the profile's ``replicas`` section (docs/replicas.md).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

from psycopg.conninfo import make_conninfo

from . import db
from .errors import ConfigurationError
from .pgtools import ServerError, write_auto_conf
from .profile import Profile, save_profile
from .replica_config import EmbeddedReplica, ReplicaConfig
from .server import EmbeddedServer, ServerStatus

LOGGER = logging.getLogger("fastdos.replicas")

REPLICATION_ROLE = "fastdos_replicator"
HBA_MARK = "# fastdos: its standbys stream over the local socket only (fastdos server replica create)"
HBA_LINE = f"local   replication   {REPLICATION_ROLE}   trust"
# A long read on a standby would otherwise be cancelled when replay must remove rows it still sees
# ("conflict with recovery"); with feedback the primary's vacuum keeps them (docs/replicas.md#limits).
STANDBY_SETTINGS = {"hot_standby": "on", "hot_standby_feedback": "on"}
# pg_basebackup of a fresh storage takes ~1 s here (bench/notes/replicas.md); a large one takes as long as
# copying its data directory.
BASEBACKUP_TIMEOUT_S = 6 * 3600


def slot_name(replica: str) -> str:
    """The replication slot of a replica: ``fastdos_`` + its name in the characters slot names allow."""
    return "fastdos_" + re.sub(r"[^a-z0-9_]", "_", replica.lower())


def primary_server(profile: Profile) -> EmbeddedServer:
    """The embedded cluster of ``profile``; ConfigurationError for a profile on a server of its own."""
    if profile.embedded is None:
        raise ConfigurationError(
            f"profile {profile.name!r} uses a server of its own, not fastdos' embedded cluster: make its standby "
            "with that server's tools and list it in the profile's replicas section (docs/replicas.md)"
        )
    return EmbeddedServer(profile.embedded.data_dir, port=profile.embedded.port, tcp=profile.embedded.tcp)


def replica_server(config: ReplicaConfig) -> EmbeddedServer:
    """The ``EmbeddedServer`` of a replica fastdos made; ConfigurationError for one it does not run."""
    if config.embedded is None:
        raise ConfigurationError(f"replica {config.name!r} is not one fastdos runs (it has no embedded section)")
    return EmbeddedServer(config.embedded.data_dir, port=config.embedded.port)


def check_primary_settings(conn: db.Connection) -> None:
    """The two settings a primary needs: ``wal_level`` replica (or logical) and ``max_wal_senders`` > 0."""
    wal_level, senders = db.one(conn, "replicas/primary_settings") or ("?", 0)
    problems = []
    if wal_level not in ("replica", "logical"):
        problems.append(f"wal_level is {wal_level!r} (needs 'replica' or 'logical')")
    if int(senders) < 1:
        problems.append(f"max_wal_senders is {senders} (needs at least 1 per standby)")
    if problems:
        raise ConfigurationError(f"the primary cannot feed a standby: {'; '.join(problems)}; set them and restart it")


def _prepare_primary(primary: EmbeddedServer) -> None:
    """Replication role and pg_hba entry (idempotent); reload the configuration when the entry is new."""
    with db.connect(primary.conninfo()) as conn:
        check_primary_settings(conn)
        if not db.scalar(conn, "replicas/role_exists", {"role": REPLICATION_ROLE}):
            db.run(conn, "replicas/create_role", identifiers={"role": REPLICATION_ROLE})
        hba = primary.data_dir / "pg_hba.conf"
        text = hba.read_text()
        if HBA_LINE not in text:
            hba.write_text(f"{HBA_MARK}\n{HBA_LINE}\n{text}")  # rewritten in place: owner and mode are kept
            db.scalar(conn, "replicas/reload_conf")


def create_replica(profile: Profile, data_dir: Path, port: int | None = None, name: str | None = None) -> Profile:
    """Make, start and register a hot standby of the profile's embedded cluster; the updated profile.

    :raises ConfigurationError: not an embedded profile, a taken name, a data directory in use.
    :raises ServerError: pg_basebackup or the start failed (with the tool's message).
    """
    primary = primary_server(profile)
    name = name or f"replica{len(profile.replicas.servers) + 1}"
    if any(r.name == name for r in profile.replicas.servers):
        raise ConfigurationError(f"profile {profile.name!r} already has a replica named {name!r}")
    port = port or primary.port + 1 + len(profile.replicas.servers)
    standby = EmbeddedServer(data_dir, port=port)
    if standby.requested_dir == primary.requested_dir or standby.data_dir == primary.data_dir:
        raise ConfigurationError(f"{data_dir} is the primary's own data directory; choose a new one")
    if standby.requested_dir.exists() and (not standby.requested_dir.is_dir() or any(standby.requested_dir.iterdir())):
        raise ConfigurationError(f"{standby.requested_dir} exists and is not an empty directory; choose a new one")
    config = ReplicaConfig(
        name,
        f"host={standby.socket_dir} port={port} user=postgres",
        EmbeddedReplica(standby.requested_dir, port),
    )
    updated = replace(profile, replicas=profile.replicas.with_replica(config))
    if not primary.is_running():
        primary.start()
    _prepare_primary(primary)
    slot = slot_name(name)
    created = not standby.requested_dir.exists()
    _drop_slot(primary, slot)  # a leftover of an earlier failed attempt
    try:
        _basebackup(standby, primary, name, slot)
        standby.start()
    except BaseException:
        if standby.is_running():
            standby.stop("immediate")
        _drop_slot(primary, slot)
        _remove_dir(standby, created)
        raise
    save_profile(updated)
    LOGGER.info("replica %r of profile %r runs in %s", name, profile.name, standby.data_dir)
    return updated


def _basebackup(standby: EmbeddedServer, primary: EmbeddedServer, name: str, slot: str) -> None:
    """``pg_basebackup -R`` of the primary into the standby's new data directory, as the server's user.

    Runs through the launcher's own steps (user, data directory owned by that user and 0700, binaries it can
    reach, tool run without root) so nothing outside what fastdos owns changes hands or mode.
    """
    source = make_conninfo(host=str(primary.socket_dir), port=str(primary.port), user=REPLICATION_ROLE)
    source = make_conninfo(source, application_name=name)
    with standby._locked(BASEBACKUP_TIMEOUT_S):
        standby._ensure_user()
        standby._prepare_data_dir()
        if (standby.data_dir / "PG_VERSION").exists():
            raise ConfigurationError(f"{standby.data_dir} already holds a cluster; choose a new directory")
        tool = standby._tool("pg_basebackup")
        cmd = [tool, "-D", str(standby.data_dir), "-d", source, "-X", "stream", "-c", "fast", "-R", "-C", "-S", slot]
        standby._run([*cmd, "-w"], timeout=BASEBACKUP_TIMEOUT_S)
        write_auto_conf(standby.data_dir / "postgresql.auto.conf", STANDBY_SETTINGS, standby.user)
    log = standby.log_file
    if log.exists():
        log.write_text("")  # the copy of the primary's log: the standby writes its own
    elif not log.parent.exists():
        log.parent.mkdir(mode=0o700)
        if standby.user is not None:
            os.chown(log.parent, standby.user.uid, standby.user.gid)


def start_replica(config: ReplicaConfig) -> ServerStatus:
    """Start a replica fastdos made (it catches up from its slot)."""
    server = replica_server(config)
    if not (server.data_dir / "standby.signal").exists():
        raise ConfigurationError(f"replica {config.name!r}: {server.data_dir} holds no standby (no standby.signal)")
    return server.start()


def stop_replica(config: ReplicaConfig) -> None:
    """Stop a replica fastdos made (reads fall back to the primary)."""
    replica_server(config).stop()


def remove_replica(profile: Profile, name: str) -> Profile:
    """Stop the replica, drop its slot on the primary, delete its data directory, unregister it; a replica
    fastdos does not run (no ``embedded`` section) is only unregistered."""
    config = profile.replicas.named(name)
    if config.embedded is None:
        updated = replace(profile, replicas=profile.replicas.without(name))
        save_profile(updated)
        return updated
    server = replica_server(config)
    if server.data_dir.exists() and not (server.data_dir / "standby.signal").exists():
        raise ConfigurationError(
            f"replica {name!r}: {server.data_dir} holds no standby (no standby.signal); not deleting it"
        )
    server.stop()
    primary = primary_server(profile)
    if primary.is_running():
        _drop_slot(primary, slot_name(name))
    _remove_dir(server, True)
    updated = replace(profile, replicas=profile.replicas.without(name))
    save_profile(updated)
    return updated


def _drop_slot(primary: EmbeddedServer, slot: str) -> None:
    try:
        with db.connect(primary.conninfo()) as conn:
            db.run(conn, "replicas/drop_slot", {"slot": slot})
    except (ConfigurationError, ServerError) as exc:
        LOGGER.warning("could not drop replication slot %s on the primary: %s", slot, exc)


def _remove_dir(server: EmbeddedServer, created: bool) -> None:
    """Delete a standby's data directory (and the symlink of a relocated one) — only what fastdos made."""
    if server.data_dir.is_dir():
        shutil.rmtree(server.data_dir)
    if server.requested_dir.is_symlink():
        server.requested_dir.unlink()
    elif created and server.requested_dir.is_dir() and not any(server.requested_dir.iterdir()):
        server.requested_dir.rmdir()
