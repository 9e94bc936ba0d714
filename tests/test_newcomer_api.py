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
