-- A person's month is rewritten after it is written: marked overdue (at once, for a month assessed
-- after its due date, else when the deadline passes) and paid, each an UPDATE of the row. With the
-- pages full (fillfactor 100) almost every new version went to another page, with an entry in both
-- indexes; with half of each page kept free it stays on its page and no index changes (a HOT
-- update). 38,400 person-months in batches of about 300, as the projector writes them: the overdue
-- mark 16.4 -> 9.5-9.8 us of PostgreSQL time a row, the payment 17.0-17.9 -> 11.7-11.8 us, the
-- table with its indexes 23.1 -> 16.5 MB at the end (the moved versions bloated the indexes), the
-- insert the same (8.3-9.1 us). Applies to pages written from now on.
ALTER TABLE contributions_view SET (fillfactor = 50);
