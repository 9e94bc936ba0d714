-- name: graph/reached_tier
-- purpose: A fragment, not a statement: which of the three sorted arrays of reached nodes a level's new nodes `f` go into (0: the newest, while it stays within merge_min or half of the middle one; 1: the middle one, while it stays within half of the oldest; 2: everything into the oldest), composed into graph/walk_wide and graph/traverse_levels (fastdos/graph.py); `w` is the previous level's row.
-- params: merge_min
-- returns: tier (0, 1 or 2)
CASE WHEN cardinality(w.recent) + cardinality(f) <= greatest(cardinality(w.middle) / 2, %(merge_min)s) THEN 0
     WHEN cardinality(w.middle) + cardinality(w.recent) + cardinality(f) <= cardinality(w.settled) / 2 THEN 1
     ELSE 2 END
