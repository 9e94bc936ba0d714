-- name: importer/groups_by_label
-- purpose: The groups with a label (any type), for an import into a named group.
-- params: label
-- returns: (id, type_string) per group
SELECT id, type_string FROM db_dbgroup WHERE label = %(label)s ORDER BY id;
