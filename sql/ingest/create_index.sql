-- name: ingest/create_index
-- purpose: Re-create an index from the text pg_get_indexdef returned for it earlier in the same transaction.
-- params: -
-- returns: nothing
{definition};
