-- name: export/links
-- purpose: The links between exported nodes, each (input, output, label, type) once, as binary COPY rows (numbered anew in the archive, as aiida-core's writer does). Every link type has a rule of the EXPORT set that cannot be switched off, so aiida's traversal records every link between two exported nodes.
-- params: everything, ids
-- returns: input_id int4, output_id int4, label text, type text
COPY (
    SELECT l.input_id, l.output_id, l.label::text, l.type::text
    FROM db_dblink AS l
    WHERE %(everything)s OR (l.input_id = ANY(%(ids)s::integer[]) AND l.output_id = ANY(%(ids)s::integer[]))
    GROUP BY l.input_id, l.output_id, l.label, l.type
    ORDER BY min(l.id)
) TO STDOUT (FORMAT BINARY);
