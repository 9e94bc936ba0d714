-- name: importer/merge_extras
-- purpose: Merge archive extras into existing nodes by aiida's merge_extras letters; bumps mtime as bulk_update.
-- params: keep_old, create_new, collision, now
-- returns: row count (nodes updated)
-- keep_old: keys only in the target stay ('k') or go ('n'), create_new: keys only in the archive are added
-- ('c') or not ('n'), collision: keys in both take the archive value ('u'), keep the target's ('l') or go ('d').
UPDATE db_dbnode AS n
SET extras = m.merged, mtime = %(now)s
FROM (
    SELECT e.id, (
        SELECT coalesce(jsonb_object_agg(kv.key, kv.value), '{}'::jsonb)
        FROM (
            SELECT o.key, o.value FROM jsonb_each(coalesce(t.extras, '{}'::jsonb)) AS o
            WHERE %(keep_old)s AND NOT e.extras ? o.key
            UNION ALL
            SELECT a.key, a.value FROM jsonb_each(e.extras) AS a
            WHERE %(create_new)s AND NOT coalesce(t.extras, '{}'::jsonb) ? a.key
            UNION ALL
            SELECT a.key, a.value FROM jsonb_each(e.extras) AS a
            WHERE %(collision)s = 'u' AND coalesce(t.extras, '{}'::jsonb) ? a.key
            UNION ALL
            SELECT o.key, o.value FROM jsonb_each(coalesce(t.extras, '{}'::jsonb)) AS o
            WHERE %(collision)s = 'l' AND e.extras ? o.key
        ) AS kv
    ) AS merged
    FROM fastdos_import_extras AS e
    JOIN db_dbnode AS t ON t.id = e.id
) AS m
WHERE n.id = m.id;
