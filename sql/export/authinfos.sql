-- name: export/authinfos
-- purpose: The authinfos of the exported computers as binary COPY rows in the column order of the archive's db_dbauthinfo.
-- params: computer_ids
-- returns: id int4, aiidauser_id int4, dbcomputer_id int4, metadata text, auth_params text, enabled bool
COPY (
    SELECT a.id, a.aiidauser_id, a.dbcomputer_id, coalesce(a.metadata::text, 'null'),
           coalesce(a.auth_params::text, 'null'), a.enabled
    FROM db_dbauthinfo AS a
    WHERE a.dbcomputer_id = ANY(%(computer_ids)s::integer[])
    ORDER BY a.id
) TO STDOUT (FORMAT BINARY);
