-- name: export/links
-- purpose: The links between exported nodes, each (input, output, label, type) once, as binary COPY rows (numbered anew in the archive, as aiida-core's writer does). Every link type has a rule of the EXPORT set that cannot be switched off, so aiida's traversal records every link between two exported nodes.
-- params: ids
-- returns: input_id int4, output_id int4, label text, type text
COPY (
    SELECT l.input_id, l.output_id, l.label::text, l.type::text
    FROM db_dblink AS l
    JOIN unnest(%(ids)s::integer[]) AS i(id) ON i.id = l.input_id
    JOIN unnest(%(ids)s::integer[]) AS o(id) ON o.id = l.output_id
    GROUP BY l.input_id, l.output_id, l.label, l.type
    ORDER BY min(l.id)
) TO STDOUT (FORMAT BINARY);
