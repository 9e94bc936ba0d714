-- name: admin/client_sessions
-- purpose: Client sessions connected to the server other than the asking one, per database and application.
-- params: -
-- returns: rows (database, application_name, count), largest count first
SELECT coalesce(datname, ''), coalesce(application_name, ''), count(*)
FROM pg_catalog.pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_catalog.pg_backend_pid()
GROUP BY 1, 2
ORDER BY 3 DESC, 1, 2;
