-- name: closure/deleted_escape
-- purpose: Whether a set of nodes about to be deleted has descendants outside the set in the closure (then removing rows is not enough: paths through them become invalid).
-- params: ids
-- returns: escapes (bool)
SELECT EXISTS (
    SELECT 1 FROM {closure}
    WHERE {parent} = ANY(%(ids)s::integer[]) AND NOT {child} = ANY(%(ids)s::integer[])
);
