-- name: info/details
-- purpose: The detailed part of get_info: sorted distinct emails, computer labels, node/process/group types and the ctime range.
-- params: -
-- returns: emails text[], computer_labels text[], first_created, last_created, node_types text[], process_types text[], group_types text[]
SELECT (SELECT coalesce(array_agg(DISTINCT email ORDER BY email), '{}') FROM db_dbuser) AS emails,
       (SELECT coalesce(array_agg(DISTINCT label ORDER BY label), '{}') FROM db_dbcomputer) AS computer_labels,
       (SELECT min(ctime) FROM db_dbnode) AS first_created,
       (SELECT max(ctime) FROM db_dbnode) AS last_created,
       (SELECT coalesce(array_agg(DISTINCT node_type ORDER BY node_type), '{}') FROM db_dbnode) AS node_types,
       (SELECT coalesce(array_agg(DISTINCT process_type ORDER BY process_type), '{}')
          FROM db_dbnode WHERE process_type IS NOT NULL AND process_type <> '') AS process_types,
       (SELECT coalesce(array_agg(DISTINCT type_string ORDER BY type_string), '{}') FROM db_dbgroup) AS group_types;
