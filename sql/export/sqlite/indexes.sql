-- name: export/sqlite/indexes
-- purpose: SQLite, not PostgreSQL: the secondary indexes of an archive's db.sqlite3 as aiida-core's writer creates them, built once after the rows are loaded (inserting into indexed tables measured slower: bench/notes/export.md).
-- params: -
-- returns: nothing
-- kind: script
CREATE INDEX ix_db_dbauthinfo_db_dbauthinfo_aiidauser_id ON db_dbauthinfo (aiidauser_id);
CREATE INDEX ix_db_dbauthinfo_db_dbauthinfo_dbcomputer_id ON db_dbauthinfo (dbcomputer_id);
CREATE INDEX ix_db_dbgroup_db_dbgroup_type_string ON db_dbgroup (type_string);
CREATE INDEX ix_db_dbgroup_db_dbgroup_user_id ON db_dbgroup (user_id);
CREATE INDEX ix_db_dbgroup_db_dbgroup_label ON db_dbgroup (label);
CREATE INDEX ix_db_dbnode_db_dbnode_ctime ON db_dbnode (ctime);
CREATE INDEX ix_db_dbnode_db_dbnode_dbcomputer_id ON db_dbnode (dbcomputer_id);
CREATE INDEX ix_db_dbnode_db_dbnode_label ON db_dbnode (label);
CREATE INDEX ix_db_dbnode_db_dbnode_user_id ON db_dbnode (user_id);
CREATE INDEX ix_db_dbnode_db_dbnode_process_type ON db_dbnode (process_type);
CREATE INDEX ix_db_dbnode_db_dbnode_mtime ON db_dbnode (mtime);
CREATE INDEX ix_db_dbnode_db_dbnode_node_type ON db_dbnode (node_type);
CREATE INDEX ix_db_dbcomment_db_dbcomment_user_id ON db_dbcomment (user_id);
CREATE INDEX ix_db_dbcomment_db_dbcomment_dbnode_id ON db_dbcomment (dbnode_id);
CREATE INDEX ix_db_dbgroup_dbnodes_db_dbgroup_dbnodes_dbnode_id ON db_dbgroup_dbnodes (dbnode_id);
CREATE INDEX ix_db_dbgroup_dbnodes_db_dbgroup_dbnodes_dbgroup_id ON db_dbgroup_dbnodes (dbgroup_id);
CREATE INDEX ix_db_dblink_db_dblink_output_id ON db_dblink (output_id);
CREATE INDEX ix_db_dblink_db_dblink_label ON db_dblink (label);
CREATE INDEX ix_db_dblink_db_dblink_type ON db_dblink (type);
CREATE INDEX ix_db_dblink_db_dblink_input_id ON db_dblink (input_id);
CREATE INDEX ix_db_dblog_db_dblog_levelname ON db_dblog (levelname);
CREATE INDEX ix_db_dblog_db_dblog_loggername ON db_dblog (loggername);
CREATE INDEX ix_db_dblog_db_dblog_dbnode_id ON db_dblog (dbnode_id);
