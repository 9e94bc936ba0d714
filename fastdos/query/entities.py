"""The allow-list of what the query builder may name: entities, their tables and columns, relationships.

Every table and column name that reaches SQL text comes from this module (through ``psycopg.sql.Identifier``);
a name given by the user is only ever *looked up* here, never composed. The tables and columns derive from
:mod:`fastdos.catalog`; what is the query builder's own is aiida's property aliases and the relationships.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import catalog
from ..errors import ValidationError

# SQL types of the columns (the catalog's base types), used for casts of array parameters
# (``= ANY(%(p)s::uuid[])``) and for checking the Python type of filter values before any SQL runs.
_KINDS = (catalog.INT, catalog.TEXT, catalog.UUID, catalog.TIME, catalog.JSON, catalog.BOOL)
INT, TEXT, UUID, TIME, JSON, BOOL = (catalog.BASE_TYPES[kind] for kind in _KINDS)


@dataclass(frozen=True)
class QueryEntity:
    """One queryable entity: its table, its columns with their SQL types, and aiida's property aliases."""

    name: str
    table: str
    columns: dict[str, str]
    # aiida's QueryBuilder property names that differ from the column (``PROJECT_MAP`` of aiida-core).
    aliases: dict[str, str] = field(default_factory=dict)

    def column(self, name: str) -> str:
        """The real column of a property name; ValidationError naming the known ones otherwise."""
        real = self.aliases.get(name, name)
        if real not in self.columns:
            known = ", ".join(sorted({*self.columns, *self.aliases}))
            raise ValidationError(f"entity {self.name!r} has no property {name!r} (known: {known})")
        return real


# The name the builder, filters and collections import (it predates the catalog's ``rows.Entity``).
Entity = QueryEntity


def _entity(entity_type: catalog.EntityTypes, aliases: dict[str, str]) -> QueryEntity:
    """The query entity of a catalog table: every column (``id`` included) with its base SQL type."""
    table = catalog.ENTITY_TABLES[entity_type]
    return QueryEntity(entity_type.value, table.name, {c.name: c.base_type for c in table.columns}, aliases)


NODE = _entity(catalog.EntityTypes.NODE, {"pk": "id", "computer": "dbcomputer_id", "user": "user_id"})
GROUP = _entity(catalog.EntityTypes.GROUP, {"pk": "id", "user": "user_id"})
USER = _entity(catalog.EntityTypes.USER, {"pk": "id"})
COMPUTER = _entity(catalog.EntityTypes.COMPUTER, {"pk": "id"})
COMMENT = _entity(catalog.EntityTypes.COMMENT, {"pk": "id", "user": "user_id", "node": "dbnode_id"})
LOG = _entity(catalog.EntityTypes.LOG, {"pk": "id", "node": "dbnode_id"})
AUTHINFO = _entity(catalog.EntityTypes.AUTHINFO, {"pk": "id", "computer": "dbcomputer_id", "user": "aiidauser_id"})
LINK = _entity(catalog.EntityTypes.LINK, {"pk": "id"})
# The edge of ``with_ancestors``/``with_descendants``: one row per (ancestor, descendant) pair.
PATH = QueryEntity("path", "", {"ancestor_id": INT, "descendant_id": INT})

ENTITIES: dict[str, QueryEntity] = {e.name: e for e in (NODE, GROUP, USER, COMPUTER, COMMENT, LOG, AUTHINFO)}

# Link types followed by with_ancestors / with_descendants: data provenance only (create and input_calc), as in
# aiida-core (docs/traversal-rules.md#ancestors-and-descendants).
PROVENANCE_LINK_TYPES = ("create", "input_calc")


@dataclass(frozen=True)
class Join:
    """How a new vertex joins the vertex it is related to.

    ``kind`` is ``fk`` (``new.<new_col> = other.<other_col>``), ``edge`` (through a link or membership table:
    ``edge.<other_col> = other.id AND new.id = edge.<new_col>``) or ``closure`` (through the ancestor /
    descendant relation: ``other_col`` is the column matched to the other vertex).
    """

    source: str
    kind: str
    new_col: str = "id"
    other_col: str = "id"
    edge: QueryEntity | None = None


# (new entity, relationship) -> join. The relationship names and directions are aiida-core's (joiner.py).
RELATIONSHIPS: dict[tuple[str, str], Join] = {
    ("node", "with_incoming"): Join("node", "edge", "output_id", "input_id", LINK),
    ("node", "with_outgoing"): Join("node", "edge", "input_id", "output_id", LINK),
    ("node", "with_ancestors"): Join("node", "closure", "descendant_id", "ancestor_id", PATH),
    ("node", "with_descendants"): Join("node", "closure", "ancestor_id", "descendant_id", PATH),
    ("node", "with_group"): Join("group", "edge", "dbnode_id", "dbgroup_id"),
    ("group", "with_node"): Join("node", "edge", "dbgroup_id", "dbnode_id"),
    ("node", "with_user"): Join("user", "fk", "user_id", "id"),
    ("user", "with_node"): Join("node", "fk", "id", "user_id"),
    ("node", "with_computer"): Join("computer", "fk", "dbcomputer_id", "id"),
    ("computer", "with_node"): Join("node", "fk", "id", "dbcomputer_id"),
    ("group", "with_user"): Join("user", "fk", "user_id", "id"),
    ("user", "with_group"): Join("group", "fk", "id", "user_id"),
    ("comment", "with_node"): Join("node", "fk", "dbnode_id", "id"),
    ("node", "with_comment"): Join("comment", "fk", "id", "dbnode_id"),
    ("comment", "with_user"): Join("user", "fk", "user_id", "id"),
    ("user", "with_comment"): Join("comment", "fk", "id", "user_id"),
    ("log", "with_node"): Join("node", "fk", "dbnode_id", "id"),
    ("node", "with_log"): Join("log", "fk", "id", "dbnode_id"),
    ("authinfo", "with_computer"): Join("computer", "fk", "dbcomputer_id", "id"),
    ("authinfo", "with_user"): Join("user", "fk", "aiidauser_id", "id"),
    ("user", "with_authinfo"): Join("authinfo", "fk", "id", "aiidauser_id"),
}
RELATIONSHIP_NAMES = frozenset(rel for _, rel in RELATIONSHIPS)
GROUP_MEMBERS_TABLE = catalog.ENTITY_TABLES[catalog.EntityTypes.GROUP_NODE].name


@dataclass(frozen=True)
class NodeType:
    """A node type restriction: exact ``node_type`` or a ``LIKE 'prefix%'`` (pattern-ops index)."""

    value: str
    prefix: bool


def resolve(entity: str, subclassing: bool) -> tuple[QueryEntity, NodeType | None]:
    """Entity by name ('node', 'group', ...) or node type string ('data.core.dict.Dict.', 'process.calculation.').

    A type string whose last component is a class name (``...Dict.``) means that class: with ``subclassing``
    ``node_type LIKE 'data.core.dict.%'`` (aiida-core's rule: drop the class name), without it equality. A
    string that ends in a module component (``process.calculation.``) is a prefix either way.
    """
    if not isinstance(entity, str):
        raise TypeError(f"entity must be a string (an entity name or a node type), not {type(entity).__name__}")
    if entity == "node" and not subclassing:
        # aiida-core: Node's own type string is '', and without subclassing it is matched exactly.
        return NODE, NodeType("", prefix=False)
    if entity in ENTITIES:
        return ENTITIES[entity], None
    if not entity.endswith(".") or ".." in entity or entity.startswith("."):
        known = ", ".join(ENTITIES)
        raise ValidationError(
            f"unknown entity {entity!r}: give one of {known} or a node type string ending in '.' "
            "(e.g. 'data.core.dict.Dict.' or 'process.calculation.')"
        )
    parts = entity[:-1].split(".")
    if parts[-1][:1].isupper():
        if subclassing:
            return NODE, NodeType(".".join(parts[:-1]) + ".", prefix=True)
        return NODE, NodeType(entity, prefix=False)
    return NODE, NodeType(entity, prefix=True)
