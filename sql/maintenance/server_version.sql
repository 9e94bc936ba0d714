-- name: maintenance/server_version
-- purpose: The server's version number (e.g. 150020), to pick pg_dump/psql binaries at least as new as the server.
-- params: -
-- returns: one integer
SELECT current_setting('server_version_num')::integer;
