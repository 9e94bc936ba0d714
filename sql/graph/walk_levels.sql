-- name: graph/walk_levels
-- purpose: Breadth-first walk from the start set along links of the given types ({source} -> {target}), one set-wise statement per level inside the server: the next frontier is the distinct targets of the current frontier not yet in fastdos_walk, stored with the level as their (minimal) depth. Every node is expanded at most twice (once if it is not a start node), so the work is O(links reached) whatever the number of start nodes or the depth spread; cycles end because visited nodes are never added again. Reads fastdos_walk_args, fills fastdos_walk (which may already hold the nodes the client's levels reached, fastdos.graph).
-- params: -
-- returns: -
-- Generic plans for the statement of the loop: with custom plans PostgreSQL re-plans every level (the custom
-- plan for a one-element frontier looks cheaper than the generic one), 80 us per level on a chain instead
-- of 20 (bench/notes/graph.md). The setting is restored before the block ends.
-- The body is a single-quoted literal (quotes doubled), which the one-statement check of tests/test_queries.py
-- understands (it does not parse dollar quotes).
DO '
DECLARE
    args record;
    frontier integer[];
    level integer;
    previous_mode text := current_setting(''plan_cache_mode'');
BEGIN
    PERFORM set_config(''plan_cache_mode'', ''force_generic_plan'', true);
    SELECT ids, link_types, max_depth, first_level INTO STRICT args FROM fastdos_walk_args;
    frontier := args.ids;
    level := args.first_level;
    LOOP
        frontier := ARRAY(
            SELECT DISTINCT l.{target} FROM db_dblink AS l
            WHERE l.{source} = ANY(frontier) AND l.type = ANY(args.link_types)
              AND NOT EXISTS (SELECT 1 FROM fastdos_walk AS v WHERE v.id = l.{target})
        );
        EXIT WHEN cardinality(frontier) = 0;
        INSERT INTO fastdos_walk (id, depth) SELECT unnest(frontier), level;
        EXIT WHEN level >= coalesce(args.max_depth, 2147483647);
        level := level + 1;
    END LOOP;
    PERFORM set_config(''plan_cache_mode'', previous_mode, true);
END
';
