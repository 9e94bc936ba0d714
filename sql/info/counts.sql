-- name: info/counts
-- purpose: Row counts of the entity tables, in get_info's order (exact counts, as aiida-core reports them).
-- params: -
-- returns: users, computers, nodes, groups, comments, logs, links
SELECT (SELECT count(*) FROM db_dbuser) AS users,
       (SELECT count(*) FROM db_dbcomputer) AS computers,
       (SELECT count(*) FROM db_dbnode) AS nodes,
       (SELECT count(*) FROM db_dbgroup) AS groups,
       (SELECT count(*) FROM db_dbcomment) AS comments,
       (SELECT count(*) FROM db_dblog) AS logs,
       (SELECT count(*) FROM db_dblink) AS links;
