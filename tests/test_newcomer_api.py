"""What a new user of the Python API trips over first (issue 14): the names aiida users look for."""

from __future__ import annotations

import pytest

from fastdos import EntityTypes
from fastdos.backend import Backend
from fastdos.errors import NotExistent, ValidationError


def test_nodes_get_accepts_id_as_aiida_does(backend: Backend) -> None:
    (user,) = backend.bulk_insert(EntityTypes.USER, [{"email": "get-id@example.org"}], allow_defaults=True)
    (pk,) = backend.bulk_insert(
        EntityTypes.NODE, [{"node_type": "data.core.int.Int.", "user_id": user, "label": "x"}], allow_defaults=True
    )
    assert backend.nodes.get(id=pk)["id"] == pk
    assert backend.nodes.get(pk=pk) == backend.nodes.get(id=pk) == backend.nodes.get(pk)
    assert backend.users.get(id=user)["email"] == "get-id@example.org"
    with pytest.raises(ValidationError, match="exactly one of pk=, id= and uuid="):
        backend.nodes.get(pk=pk, id=pk)
    with pytest.raises(ValidationError, match="exactly one of"):
        backend.nodes.get()
    with pytest.raises(NotExistent):
        backend.nodes.get(id=pk + 1000)
    with pytest.raises(TypeError):
        backend.nodes.get(id="1")  # type: ignore[arg-type]


def test_the_default_user_is_created_on_request_not_by_initialise(  # type: ignore[no-untyped-def]
    pg_server, empty_db: str, tmp_path
) -> None:
    from conftest import make_profile

    from fastdos.profile import DEFAULT_USER_EMAIL

    profile = make_profile(pg_server, empty_db, tmp_path / "repo")
    assert profile.default_user_email is None and profile.user_email == DEFAULT_USER_EMAIL
    assert Backend.initialise(profile) is True
    with Backend(profile) as storage:
        assert storage.users.count() == 0  # initialise creates no row, as aiida-core's does not
        assert storage.default_user_id is None
        first = storage.ensure_default_user()
        assert storage.default_user_id == first
        assert storage.users.get(id=first)["email"] == DEFAULT_USER_EMAIL
        assert storage.ensure_default_user() == first  # once
        assert storage.users.count() == 1


def test_a_profile_naming_its_user_gets_that_user(  # type: ignore[no-untyped-def]
    pg_server, empty_db: str, tmp_path
) -> None:
    import dataclasses

    from conftest import make_profile

    profile = dataclasses.replace(
        make_profile(pg_server, empty_db, tmp_path / "repo"), default_user_email="me@example.org"
    )
    Backend.initialise(profile)
    with Backend(profile) as storage:
        user = storage.ensure_default_user()
        assert [(u["id"], u["email"]) for u in storage.users.iter()] == [(user, "me@example.org")]


def test_a_wrong_key_set_names_the_unknown_and_the_missing_keys(backend: Backend) -> None:
    from fastdos.cli.base import describe
    from fastdos.errors import IntegrityError, KeySetError

    row = {"node_type": "data.", "user_id": 1, "colour": "red"}
    with pytest.raises(IntegrityError) as info:
        backend.bulk_insert(EntityTypes.NODE, [row])
    text = str(info.value)
    # aiida's text, its two sets printed in a fixed (sorted) order ...
    assert text.startswith("Incorrect fields given for EntityTypes.NODE: {'colour', 'node_type', 'user_id'} != {")
    # ... and the keys by name, which the CLI prints on the same line
    assert isinstance(info.value, KeySetError)
    assert info.value.unknown_keys == ["colour"]
    assert info.value.missing_keys[:2] == ["attributes", "ctime"] and "label" in info.value.missing_keys
    assert describe(info.value) == f"{text} ({info.value.detail})"
    assert info.value.detail.startswith("unknown keys: ['colour']; missing keys: ['attributes', ")
    with pytest.raises(KeySetError) as info:
        backend.bulk_insert(EntityTypes.NODE, [row], allow_defaults=True)
    assert info.value.detail == "unknown keys: ['colour']"
    with pytest.raises(KeySetError) as info:
        backend.bulk_update(EntityTypes.NODE, [{"id": 1, "colour": "red"}])
    assert info.value.detail == "unknown keys: ['colour']"
