-- name: export/groups
-- purpose: The exported groups as binary COPY rows in the column order of the archive's db_dbgroup (time as naive UTC text, as the archive stores it).
-- params: ids
-- returns: id int4, uuid, label, type_string, time, description, extras (text), user_id int4
COPY (
    SELECT g.id, g.uuid::text, g.label::text, g.type_string::text,
           to_char(g.time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), g.description,
           coalesce(g.extras::text, 'null'), g.user_id
    FROM db_dbgroup AS g
    WHERE g.id = ANY(%(ids)s::integer[])
    ORDER BY g.id
) TO STDOUT (FORMAT BINARY);
