-- name: migrator/django_version
-- purpose: The newest applied migration of a legacy AiiDA 1.x Django database (app 'db').
-- params: -
-- returns: name, or no row
SELECT name FROM django_migrations WHERE app = 'db' ORDER BY id DESC LIMIT 1;
