-- name: importer/authinfos_existing
-- purpose: Which (user, computer) pairs already have an authinfo.
-- params: user_ids, computer_ids
-- returns: (aiidauser_id, dbcomputer_id) per existing authinfo
SELECT a.aiidauser_id, a.dbcomputer_id
FROM db_dbauthinfo AS a
JOIN unnest(%(user_ids)s::integer[], %(computer_ids)s::integer[]) AS p(user_id, computer_id)
  ON a.aiidauser_id = p.user_id AND a.dbcomputer_id = p.computer_id;
