-- Messages JetStream would not take (no stream captures their subject): kept with the reason,
-- so one misaddressed message never blocks the outbox behind it. Operators resend after the fix.
CREATE TABLE outbox_undeliverable (
    message_id uuid        NOT NULL,
    subject    text        NOT NULL,
    payload    bytea       NOT NULL,
    headers    jsonb       NOT NULL,
    reason     text        NOT NULL,
    parked_at  timestamptz NOT NULL DEFAULT now()
);
