-- name: export/users
-- purpose: The exported users as binary COPY rows in the column order of the archive's db_dbuser.
-- params: ids
-- returns: id int4, email, first_name, last_name, institution (text)
COPY (
    SELECT u.id, u.email::text, u.first_name::text, u.last_name::text, u.institution::text
    FROM db_dbuser AS u
    WHERE u.id = ANY(%(ids)s::integer[])
    ORDER BY u.id
) TO STDOUT (FORMAT BINARY);
