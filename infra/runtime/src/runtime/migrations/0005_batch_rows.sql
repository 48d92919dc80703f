-- The rows of a set-based statement (`runtime.batching.json_rows`), as the planner should count
-- them: a few. `jsonb_array_elements` counts as 100 rows to it, so joining a batch to a view by the
-- view's key looked dearer through the key's index (100 lookups) than through a hash of the
-- whole view while the view was under some 40,000 rows; and a prepared statement keeps the plan
-- it was given on the small view while the view grows. The year simulated at scale 0.02 read
-- 8 million rows of contributions_view that way, each payment's update slower than the last
-- (1.6 ms for 8 rows at 4,000 rows, 10.9 ms at 48,000). Counted as one row, the batch is joined
-- through the key's index from the start (0.5-0.9 ms at any size; docs/performance.md). A batch
-- of more than a hundred rows (a rebuild's) still goes through `jsonb_array_elements`.
-- The SET clause keeps PostgreSQL from inlining the function (and its count with it).
CREATE OR REPLACE FUNCTION batch_rows(jsonb) RETURNS SETOF jsonb
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE ROWS 1
    SET search_path = pg_catalog
    AS 'SELECT jsonb_array_elements($1)';
