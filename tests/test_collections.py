"""Collections: get / get_many / count / iter / delete with the schema's foreign-key rules, group helpers."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from fastdos.backend import Backend
from fastdos.errors import NotExistent, ValidationError
from tests.test_query_seed import NODES, Seed, seed


@pytest.fixture
def seeded(backend: Backend, conn: psycopg.Connection) -> Iterator[tuple[Backend, Seed]]:
    yield backend, seed(conn)


def counts(conn: psycopg.Connection) -> tuple[int, ...]:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM db_dbnode), (SELECT count(*) FROM db_dblink), (SELECT count(*) FROM db_dbuser),"
        " (SELECT count(*) FROM db_dbcomputer), (SELECT count(*) FROM db_dbgroup),"
        " (SELECT count(*) FROM db_dbgroup_dbnodes), (SELECT count(*) FROM db_dbcomment),"
        " (SELECT count(*) FROM db_dblog), (SELECT count(*) FROM db_dbauthinfo)"
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_get_get_many_count_iter(seeded: tuple[Backend, Seed]) -> None:
    backend, s = seeded
    node = backend.nodes.get(s.ids["n5"])
    assert node["label"] == "dict5" and node["attributes"]["a"] == {"b": 5, "c": "x"}
    assert backend.nodes.get(uuid=s.uuids["n5"])["id"] == s.ids["n5"]
    order = [s.ids["n3"], s.ids["n1"], s.ids["n3"]]
    assert [n["id"] for n in backend.nodes.get_many(order)] == order
    assert backend.nodes.get_many([]) == []
    assert backend.nodes.count() == len(NODES)
    assert backend.nodes.count({"attributes.value": {">": 1}}) == 2
    assert backend.nodes.count(label="two") == 1
    assert [n["label"] for n in backend.nodes.iter(batch_size=3)] == [label for *_, label in NODES]
    assert [u["email"] for u in backend.users.iter()] == ["u1@example.org", "u2@example.org"]
    assert backend.computers.get(s.ids["c1"])["label"] == "localhost"
    assert backend.groups.count(label="g1") == 1
    assert backend.comments.count() == backend.logs.count() == backend.authinfos.count() == 1
    assert backend.groups.node_pks(s.ids["g1"]) == sorted(s.pks("n1", "n2"))


def test_get_errors(seeded: tuple[Backend, Seed]) -> None:
    backend, s = seeded
    with pytest.raises(NotExistent, match="no node with pk=999999"):
        backend.nodes.get(999999)
    with pytest.raises(NotExistent, match="no node with uuid"):
        backend.nodes.get(uuid="00000000-0000-0000-0000-000000000000")
    with pytest.raises(ValidationError, match="exactly one"):
        backend.nodes.get()
    with pytest.raises(ValidationError, match="exactly one"):
        backend.nodes.get(1, uuid=s.uuids["n1"])
    with pytest.raises(ValidationError, match="not a UUID"):
        backend.nodes.get(uuid="nope")
    with pytest.raises(ValidationError, match="has no uuid"):
        backend.users.get(uuid=s.uuids["n1"])
    with pytest.raises(NotExistent, match="999998, 999999"):
        backend.nodes.get_many([s.ids["n1"], 999998, 999999])
    with pytest.raises(TypeError):
        backend.nodes.get_many(["1"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="out of range"):
        backend.nodes.get_many([0])
    with pytest.raises(ValidationError, match="unknown filter operator"):
        backend.nodes.count({"label": {"equals": "x"}})


def test_delete_user_and_computer_in_use(seeded: tuple[Backend, Seed], conn: psycopg.Connection) -> None:
    backend, s = seeded
    before = counts(conn)
    with pytest.raises(ValidationError, match=r"9 nodes still use the user"):
        backend.users.delete(s.ids["u1"])
    with pytest.raises(ValidationError, match=r"1 node still uses the computer"):
        backend.computers.delete(s.ids["c1"])
    assert counts(conn) == before
    # Once the nodes are gone, the computer goes, with its authinfo (CASCADE).
    backend.nodes.delete(s.ids["n7"])
    backend.computers.delete(s.ids["c1"])
    assert backend.computers.count() == 0 and backend.authinfos.count() == 0


def test_delete_user_cascades(seeded: tuple[Backend, Seed], conn: psycopg.Connection) -> None:
    backend, s = seeded
    # A fresh user owning a group with members: the memberships must go with the group.
    u3 = conn.execute(
        "INSERT INTO db_dbuser (email, first_name, last_name, institution) VALUES ('u3@x', '', '', '') RETURNING id"
    ).fetchone()
    assert u3 is not None
    g = conn.execute(
        "INSERT INTO db_dbgroup (uuid, label, type_string, time, description, extras, user_id)"
        " VALUES (gen_random_uuid(), 'g3', 'core', now(), '', '{}', %s) RETURNING id",
        (u3[0],),
    ).fetchone()
    assert g is not None
    backend.groups.add_nodes(g[0], [s.ids["n1"]])
    backend.users.delete(u3[0])
    assert backend.groups.count(label="g3") == 0
    assert backend.nodes.count() == len(NODES)


def test_delete_nodes_groups_comments(seeded: tuple[Backend, Seed], conn: psycopg.Connection) -> None:
    backend, s = seeded
    assert backend.nodes.delete_many([s.ids["n7"], s.ids["n1"]]) == 2
    assert backend.nodes.count() == len(NODES) - 2
    assert backend.comments.count() == 0 and backend.logs.count() == 0  # cascaded with n7
    assert conn.execute("SELECT count(*) FROM db_dblink").fetchone() == (4,)
    assert backend.groups.node_pks(s.ids["g1"]) == [s.ids["n2"]]
    backend.groups.delete(s.ids["g1"])
    assert backend.groups.count() == 0 and backend.nodes.count() == len(NODES) - 2
    before = counts(conn)
    with pytest.raises(NotExistent, match="no node with pk 999999"):
        backend.nodes.delete_many([s.ids["n2"], 999999])
    with pytest.raises(NotExistent):
        backend.logs.delete(999999)
    assert counts(conn) == before


def test_group_helpers(seeded: tuple[Backend, Seed], conn: psycopg.Connection) -> None:
    backend, s = seeded
    g = s.ids["g1"]
    assert backend.groups.add_nodes(g, [s.ids["n1"], s.ids["n3"], s.ids["n3"], s.ids["n4"]]) == 2
    assert backend.groups.node_pks(g) == sorted(s.pks("n1", "n2", "n3", "n4"))
    assert backend.groups.remove_nodes(g, [s.ids["n1"], s.ids["n5"]]) == 1
    assert backend.groups.node_pks(g) == sorted(s.pks("n2", "n3", "n4"))
    before = counts(conn)
    with pytest.raises(NotExistent, match="no node with pk 999999"):
        backend.groups.add_nodes(g, [s.ids["n5"], 999999])
    with pytest.raises(NotExistent, match="no group"):
        backend.groups.add_nodes(999999, [s.ids["n5"]])
    with pytest.raises(TypeError):
        backend.groups.add_nodes(g, "12")  # type: ignore[arg-type]
    assert counts(conn) == before
    assert backend.groups.clear(g) == 3
    assert backend.groups.node_pks(g) == []
    assert backend.groups.add_nodes(g, []) == 0
