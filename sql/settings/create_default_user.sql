-- name: settings/create_default_user
-- purpose: Create the profile's default user when a storage is created (as aiida-core's profile setup does); a user with that email already there is kept.
-- params: email
-- returns: nothing
INSERT INTO db_dbuser (email, first_name, last_name, institution)
VALUES (%(email)s, '', '', '')
ON CONFLICT (email) DO NOTHING;
