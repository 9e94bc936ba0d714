-- name: closure/truncate
-- purpose: Empty the closure table before a full rebuild (TRUNCATE: transactional, and far cheaper than DELETE of every row).
-- params: -
-- returns: -
TRUNCATE {closure};
