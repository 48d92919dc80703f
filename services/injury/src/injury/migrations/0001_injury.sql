-- Every settlement stream, written in the transaction of its first settling event: what the streams
-- cannot answer by id (a hospital's day for reconciliation, a person's held settlements for the
-- re-settlement policy). The person is a pseudonym, never an ID number.
CREATE TABLE settlement_index (
    stream_id              text PRIMARY KEY,
    hospital_id            text NOT NULL,
    hospital_settlement_no text NOT NULL,
    service_date           date NOT NULL,
    person_ref             text NOT NULL,
    determination_ref      text NOT NULL
);
CREATE INDEX settlement_index_day ON settlement_index (hospital_id, service_date);
CREATE INDEX settlement_index_person ON settlement_index (person_ref);

-- Each hospital's latest declaration for a day of service and how it compared (对账).
CREATE TABLE reconciliations (
    hospital_id text        NOT NULL,
    day         date        NOT NULL,
    matched     boolean     NOT NULL,
    result      jsonb       NOT NULL,
    declared_at timestamptz NOT NULL,
    PRIMARY KEY (hospital_id, day)
);
CREATE INDEX reconciliations_day ON reconciliations (day) WHERE NOT matched;

-- Read models (projection "injury").
CREATE TABLE injury_settlements (
    stream_id              text        PRIMARY KEY,
    hospital_id            text        NOT NULL,
    hospital_settlement_no text        NOT NULL,
    region                 text        NOT NULL,
    person_ref             text        NOT NULL,
    determination_ref      text        NOT NULL,
    service_date           date        NOT NULL,
    status                 text        NOT NULL,
    hold_reason            text,
    total_fen              bigint      NOT NULL,
    fund_fen               bigint      NOT NULL,
    self_pay_fen           bigint      NOT NULL,
    posted_at              timestamptz NOT NULL,
    resettled_at           timestamptz,
    reversed_at            timestamptz
);
CREATE INDEX injury_settlements_person ON injury_settlements (person_ref, service_date);
CREATE INDEX injury_settlements_day ON injury_settlements (service_date, hospital_id);

CREATE TABLE injury_rejected_lines (
    service_date date   NOT NULL,
    hospital_id  text   NOT NULL,
    reason       text   NOT NULL,
    lines        bigint NOT NULL,
    PRIMARY KEY (service_date, hospital_id, reason)
);
