-- Every deadline of a stream, whatever its status: a determination's page lists its timers (due,
-- fired, cancelled), and without this index that read walked the whole table, every deadline the
-- service ever scheduled (`deadlines_by_stream` holds the pending ones only).
CREATE INDEX deadlines_of_stream ON deadlines (stream_id, due_at);
