-- The event log: one row per event, unique (stream_id, version). A conflicting insert is the
-- optimistic-concurrency error. `transaction_id` makes the global order gap-free for readers:
-- they read only below the oldest transaction still running (see docs/adr/0002).
CREATE TABLE events (
    stream_id      text        NOT NULL,
    version        integer     NOT NULL CHECK (version > 0),
    event_id       uuid        NOT NULL UNIQUE,
    event_type     text        NOT NULL,
    data           jsonb       NOT NULL,
    metadata       jsonb       NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    transaction_id xid8        NOT NULL DEFAULT pg_current_xact_id(),
    position       bigint      GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (stream_id, version)
);
CREATE INDEX events_in_commit_order ON events (transaction_id, position);

-- Messages waiting to be relayed to JetStream; written in the same transaction as the events.
CREATE TABLE outbox (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id  uuid        NOT NULL,
    subject     text        NOT NULL,
    payload     bytea       NOT NULL,
    headers     jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Messages a consumer has applied, committed with the effect: a redelivery finds its row.
CREATE TABLE inbox (
    consumer     text        NOT NULL,
    message_id   uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

-- The reply to each command handled, so a retried command gets the first answer.
CREATE TABLE command_replies (
    command_id uuid        PRIMARY KEY,
    reply      jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Where each projection has read up to in the event log, committed with its view rows.
CREATE TABLE projection_positions (
    projection     text   PRIMARY KEY,
    transaction_id xid8   NOT NULL DEFAULT '0',
    position       bigint NOT NULL DEFAULT 0
);

-- Durable timers. A row fires once (status moves to 'fired' in the handler's transaction) and a
-- cancelled row never fires. `rule` lets a provisional due date be recomputed.
CREATE TABLE deadlines (
    deadline_id  uuid        PRIMARY KEY,
    stream_id    text        NOT NULL,
    kind         text        NOT NULL,
    due_at       timestamptz NOT NULL,
    provisional  boolean     NOT NULL DEFAULT false,
    rule         jsonb       NOT NULL,
    payload      jsonb       NOT NULL DEFAULT '{}',
    status       text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'fired', 'cancelled')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    settled_at   timestamptz,
    traceparent  text
);
CREATE INDEX deadlines_pending_by_due ON deadlines (due_at) WHERE status = 'pending';
CREATE INDEX deadlines_by_stream ON deadlines (stream_id, kind) WHERE status = 'pending';

-- Working-day calendars loaded by operators for years the shipped package does not cover.
CREATE TABLE calendar_years (
    year      integer     PRIMARY KEY,
    data      jsonb       NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now()
);
