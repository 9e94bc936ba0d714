-- name: admin/create_database
-- purpose: Create a database (UTF8 from template0, so it works whatever template1's encoding is).
-- params: -
-- returns: nothing
CREATE DATABASE {dbname} ENCODING 'UTF8' TEMPLATE template0;
