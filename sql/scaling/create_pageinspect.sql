-- name: scaling/create_pageinspect
-- purpose: Install the pageinspect extension (superuser; the measurement database only) to read btree metapages.
-- params: -
-- returns: -
CREATE EXTENSION IF NOT EXISTS pageinspect;
