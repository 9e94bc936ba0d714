"""The links stage: archive links staged, remapped, deduplicated, validated by aiida's rules and inserted.

aiida-core's link rules (docs/traversal-rules.md#link-rules), per link type: the kind of node at each end (by
``node_type`` prefix), and which of (input, label), output, (output, label) must be unique among the links of
that type; and no link joins a node to itself. Links the target has already (same input, output, label and
type) are skipped, as aiida skips them. Unlike aiida, links of a type aiida does not know are an error (aiida
drops them silently).
"""

from __future__ import annotations

from .. import db
from ..archive import ImportValidationError
from ..rules import LINK_TYPES
from . import staging
from .run import BATCH, ImportRun

# Node kinds (node_type prefixes) at the ends of links.
CALC, WORK, DATA = "process.calculation.", "process.workflow.", "data."
# link type -> (input kind, output kind, unique (input, label), unique output, unique (output, label)).
LINK_RULES: dict[str, tuple[str, str, bool, bool, bool]] = {
    "create": (CALC, DATA, True, True, False),
    "return": (WORK, DATA, True, False, False),
    "input_calc": (DATA, CALC, False, False, True),
    "input_work": (DATA, WORK, False, False, True),
    "call_calc": (WORK, CALC, False, True, False),
    "call_work": (WORK, WORK, False, True, False),
}


def links(run: ImportRun) -> None:
    """Stage the archive links; remap, deduplicate, validate and insert them set-wise."""
    total = run.reader.count("db_dblink")
    if not total:
        return
    with run.stage("links", total) as stage:
        done = 0
        for batch in run.reader.batches("links", BATCH):
            staging.copy(run.conn, staging.LINKS, [(r.id, r.input_id, r.output_id, r.label, r.type) for r in batch])
            done += len(batch)
            run.progress("links", done, total)
        run.analyze(staging.LINKS, total)
        unknown_types = [str(r[0]) for r in db.all_rows(run.conn, "importer/links_unknown_types",
                                                        {"types": list(LINK_TYPES)})]  # fmt: skip
        if unknown_types:
            raise ImportValidationError(
                f"Archive links have unknown link types {sorted(unknown_types)}; known: {', '.join(LINK_TYPES)}"
            )
        unknown = db.all_rows(run.conn, "importer/links_unknown_nodes")
        if unknown:
            listed = ", ".join(f"link {pk} ({i} -> {o})" for pk, i, o in unknown)
            raise ImportValidationError(f"Archive links refer to nodes that are not in the archive: {listed}")
        run.analyze(staging.NEW_LINKS, db.run(run.conn, "importer/links_new"))
        _check_rules(run)
        stage.new = db.run(run.conn, "importer/links_insert", {"types": list(LINK_TYPES)})
        stage.existing = total - stage.new


def _check_rules(run: ImportRun) -> None:
    """A cheap test whether any new link breaks a rule; only then the statement that names them."""
    types = list(LINK_RULES)
    suspect = db.scalar(run.conn, "importer/links_any_violation", {
        "types": types,
        "in_kinds": [LINK_RULES[t][0] for t in types],
        "out_kinds": [LINK_RULES[t][1] for t in types],
        "in_label_types": [t for t in types if LINK_RULES[t][2]],
        "out_types": [t for t in types if LINK_RULES[t][3]],
        "out_label_types": [t for t in types if LINK_RULES[t][4]],
    })  # fmt: skip
    bad = suspect and db.all_rows(run.conn, "importer/links_violations", {
        "types": types,
        "in_kinds": [LINK_RULES[t][0] for t in types],
        "out_kinds": [LINK_RULES[t][1] for t in types],
        "unique_in_label": [LINK_RULES[t][2] for t in types],
        "unique_out": [LINK_RULES[t][3] for t in types],
        "unique_out_label": [LINK_RULES[t][4] for t in types],
    })  # fmt: skip
    if bad:
        listed = "; ".join(
            f"link {pk} {kind} {label!r} from {iu} ({it}) to {ou} ({ot}): {problem}"
            for pk, kind, label, iu, it, ou, ot, problem in bad
        )
        raise ImportValidationError(f"Archive links break the link rules: {listed}")
