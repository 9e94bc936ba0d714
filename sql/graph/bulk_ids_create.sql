-- name: graph/bulk_ids_create
-- purpose: The transaction's table of node ids to delete; its primary key lets every delete and check below be a merge or index join against it.
-- params: -
-- returns: nothing
CREATE TEMPORARY TABLE fastdos_delete_ids (id integer PRIMARY KEY) ON COMMIT DROP;
