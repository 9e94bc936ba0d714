-- name: closure/state
-- purpose: The closure's bookkeeping row: link watermark, count of links at or below it, exactness flag, row count.
-- params: -
-- returns: watermark, link_count, exact, row_count, link_types (no row: never built or emptied by a reset)
SELECT watermark, link_count, exact, row_count, link_types FROM {state} WHERE key = 'closure';
