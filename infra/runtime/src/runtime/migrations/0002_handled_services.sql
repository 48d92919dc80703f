-- Services handled, by day (Beijing), channel and public event type: the input of the
-- online-handling share (线上经办占比). Fed from the service's public events on JetStream.
CREATE TABLE handled_services (
    day        date    NOT NULL,
    channel    text    NOT NULL,
    event_type text    NOT NULL,
    handled    bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (day, channel, event_type)
);
