-- Parked messages keep the order in which they were parked (several park in one statement, at one
-- `now()`), so `yiwang undeliverable --resend` queues them again in that order.
ALTER TABLE outbox_undeliverable ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY;
