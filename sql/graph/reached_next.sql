-- name: graph/reached_next
-- purpose: A fragment, not a statement: the select-list items a level walk's recursive term computes after a level, composed into graph/walk_wide and graph/traverse_levels (fastdos/graph.py): the three sorted arrays of reached nodes with the level's new nodes merged in by its tier (graph/reached_tier), the run of narrow levels, the sorting work so far. `w` is the previous level's row, `n` the level (f: its new nodes, ascending; tier).
-- params: narrow
-- returns: settled, middle, recent, narrow_run, work (select-list items)
CASE n.tier WHEN 2 THEN ARRAY(SELECT unnest(w.settled || w.middle || w.recent || n.f) ORDER BY 1)
            ELSE w.settled END,
CASE n.tier WHEN 2 THEN '{}'::integer[]
            WHEN 1 THEN ARRAY(SELECT unnest(w.middle || w.recent || n.f) ORDER BY 1)
            ELSE w.middle END,
CASE n.tier WHEN 0 THEN ARRAY(SELECT unnest(w.recent || n.f) ORDER BY 1) ELSE '{}'::integer[] END,
CASE WHEN cardinality(n.f) < %(narrow)s THEN w.narrow_run + 1 ELSE 0 END,
w.work + cardinality(w.recent) + cardinality(n.f)
       + CASE WHEN n.tier >= 1 THEN cardinality(w.middle) ELSE 0 END
       + CASE WHEN n.tier = 2 THEN cardinality(w.settled) ELSE 0 END
