-- An employer's row is rewritten soon after it is written: its work-injury rate class comes right
-- after its registration (often in the same projector batch), its review and overdue flags later.
-- With half of each page kept free, the new version of the row goes on the same page and no index
-- changes (a HOT update): in a rebuild, setting 5,000 employers' classes took 57 ms of PostgreSQL
-- time instead of 17 (`docs/performance.md`). One row per employer: the table stays small.
ALTER TABLE employers_view SET (fillfactor = 50);
