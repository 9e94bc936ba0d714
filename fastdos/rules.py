"""Link types and AiiDA's graph traversal rule sets (docs/traversal-rules.md), with aiida's validation of rule toggles.

DELETE drives deletion (:mod:`fastdos.graph`), EXPORT the archive export (:mod:`fastdos.exporter`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .errors import ValidationError
from .ids import check_ids

# db_dblink.type values (aiida's LinkType enum values, stored verbatim).
LINK_TYPES: tuple[str, ...] = ("create", "return", "input_calc", "input_work", "call_calc", "call_work")

# The link types AiiDA's QueryBuilder follows for with_ancestors / with_descendants (data provenance only).
PROVENANCE_LINK_TYPES: tuple[str, ...] = ("create", "input_calc")


@dataclass(frozen=True)
class Rule:
    """One traversal rule: follow ``link_type`` links ``forward`` (input→output) or backward."""

    link_type: str
    forward: bool
    toggleable: bool
    default: bool

    @property
    def name(self) -> str:
        return f"{self.link_type}_{'forward' if self.forward else 'backward'}"


@dataclass(frozen=True)
class RuleSet:
    """A named set of rules in aiida's order."""

    name: str
    rules: tuple[Rule, ...]

    def by_name(self) -> dict[str, Rule]:
        return {rule.name: rule for rule in self.rules}


def _rules(table: Iterable[tuple[str, bool, bool, bool]]) -> tuple[Rule, ...]:
    return tuple(Rule(link_type, forward, toggleable, default) for link_type, forward, toggleable, default in table)


# GraphTraversalRules.DELETE (docs/traversal-rules.md#delete-rule-set): (link type, forward, toggleable, default).
DELETE = RuleSet(
    "DELETE",
    _rules(
        [
            ("input_calc", True, False, True),
            ("input_calc", False, False, False),
            ("create", True, True, True),
            ("create", False, False, True),
            ("return", True, False, False),
            ("return", False, False, True),
            ("input_work", True, False, True),
            ("input_work", False, False, False),
            ("call_calc", True, True, True),
            ("call_calc", False, False, True),
            ("call_work", True, True, True),
            ("call_work", False, False, True),
        ]
    ),
)


@dataclass(frozen=True)
class Directions:
    """The link types followed forward and backward once the toggles are applied."""

    forward: tuple[str, ...]
    backward: tuple[str, ...]


def resolve(ruleset: RuleSet, toggles: Mapping[str, object]) -> Directions:
    """Apply ``toggles`` (rule name → bool) to ``ruleset`` with aiida-core's checks and messages.

    :raises ValidationError: ``unrecognized keywords: ...`` for names that are not rules of the set.
    :raises ValueError: a rule that is not toggleable, or a value that is not a bool.
    """
    rules = ruleset.by_name()
    unknown = sorted(set(toggles) - set(rules))
    if unknown:
        raise ValidationError(f"unrecognized keywords: {', '.join(unknown)}")
    values = {name: rule.default for name, rule in rules.items()}
    for name, value in toggles.items():
        rule = rules[name]
        if not rule.toggleable:
            raise ValueError(f"input rule {name} is not toggleable for ruleset {ruleset.name}")
        if not isinstance(value, bool):
            raise ValueError(f"the value of rule {name} must be boolean, but it is: {value!r}")
        values[name] = value
    return Directions(
        forward=tuple(r.link_type for r in ruleset.rules if r.forward and values[r.name]),
        backward=tuple(r.link_type for r in ruleset.rules if not r.forward and values[r.name]),
    )


def check_link_types(link_types: Iterable[str]) -> tuple[str, ...]:
    """The link types as a tuple (order kept, duplicates removed); ``ValueError`` naming unknown ones."""
    if isinstance(link_types, str):
        link_types = (link_types,)
    chosen = tuple(dict.fromkeys(link_types))
    unknown = [t for t in chosen if t not in LINK_TYPES]
    if unknown:
        raise ValueError(f"unknown link types {unknown}; known: {', '.join(LINK_TYPES)}")
    if not chosen:
        raise ValueError("no link types given")
    return chosen


def check_pks(pks: Iterable[object], what: str = "pk") -> list[int]:
    """Node ids as a de-duplicated list (input order kept); :func:`fastdos.ids.check_ids`' errors."""
    return check_ids(pks, what)


# GraphTraversalRules.EXPORT as aiida-core 2.9.4 defines it, used by fastdos.exporter. aiida-core follows
# call_calc and call_work backward by default (the metadata.json of tests/data/archives/sample.aiida records
# both as true).
EXPORT = RuleSet(
    "EXPORT",
    _rules(
        [
            ("input_calc", True, True, False),
            ("input_calc", False, False, True),
            ("create", True, False, True),
            ("create", False, True, True),
            ("return", True, False, True),
            ("return", False, True, False),
            ("input_work", True, True, False),
            ("input_work", False, False, True),
            ("call_calc", True, False, True),
            ("call_calc", False, True, True),
            ("call_work", True, False, True),
            ("call_work", False, True, True),
        ]
    ),
)
