-- name: maintenance/vacuum
-- purpose: VACUUM (ANALYZE) the psql_dos tables in full maintenance; must run outside any transaction block (autocommit).
-- params: -
-- returns: nothing
VACUUM (ANALYZE) db_dbnode, db_dblink, db_dbgroup, db_dbgroup_dbnodes, db_dbuser, db_dbcomputer,
    db_dbauthinfo, db_dbcomment, db_dblog, db_dbsetting;
