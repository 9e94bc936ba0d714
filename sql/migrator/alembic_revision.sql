-- name: migrator/alembic_revision
-- purpose: The revision stamped in an alembic version table (aiida's or fastdos' own).
-- params: -
-- returns: version_num rows (one at a linear head)
SELECT version_num FROM {version_table};
