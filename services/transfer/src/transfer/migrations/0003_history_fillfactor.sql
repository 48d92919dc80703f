-- A month of a person's history is marked paid after it is written (the payment comes after the
-- assessment): with half of each page kept free the new version stays on its page and the primary
-- key is not touched (a HOT update), as for enrolment's contributions_view. Applies to pages written
-- from now on.
ALTER TABLE history SET (fillfactor = 50);
