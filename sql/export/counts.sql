-- name: export/counts
-- purpose: Rows of the dependent entities an export writes (authinfos, comments, logs, group memberships, distinct links), for the report and the progress totals.
-- params: everything, ids, group_ids, computer_ids, comments, logs, authinfos
-- returns: authinfos, comments, logs, group_nodes, links
SELECT
    (SELECT count(*) FROM db_dbauthinfo AS a
     WHERE %(authinfos)s AND a.dbcomputer_id = ANY(%(computer_ids)s::integer[])) AS authinfos,
    (SELECT count(*) FROM db_dbcomment AS c WHERE %(comments)s AND (%(everything)s OR c.dbnode_id = ANY(%(ids)s::integer[]))) AS comments,
    (SELECT count(*) FROM db_dblog AS l WHERE %(logs)s AND (%(everything)s OR l.dbnode_id = ANY(%(ids)s::integer[]))) AS logs,
    (SELECT count(*) FROM (SELECT DISTINCT m.dbgroup_id, m.dbnode_id FROM db_dbgroup_dbnodes AS m
                           WHERE m.dbgroup_id = ANY(%(group_ids)s::integer[])) AS gm) AS group_nodes,
    (SELECT count(*) FROM (SELECT DISTINCT l.input_id, l.output_id, l.label, l.type
                           FROM db_dblink AS l
                           WHERE %(everything)s
                              OR (l.input_id = ANY(%(ids)s::integer[]) AND l.output_id = ANY(%(ids)s::integer[]))
                          ) AS dl) AS links;
