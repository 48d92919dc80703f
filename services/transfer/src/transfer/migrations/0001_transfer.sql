-- The person's contribution history in this region, fed by the enrolment service's public events.
CREATE TABLE history (
    person_ref           text    NOT NULL,
    employer_credit_code text    NOT NULL,
    month                text    NOT NULL,
    citizen_id           text    NOT NULL,
    base_fen             bigint  NOT NULL,
    employer_rate        numeric(8, 6) NOT NULL,
    account_fen          bigint  NOT NULL,
    paid                 boolean NOT NULL DEFAULT false,
    PRIMARY KEY (person_ref, employer_credit_code, month)
);

CREATE TABLE employments (
    person_ref           text   NOT NULL,
    employer_credit_code text   NOT NULL,
    schemes              text[] NOT NULL,
    hired_on             date   NOT NULL,
    ended_on             date,
    PRIMARY KEY (person_ref, employer_credit_code)
);

-- Periods brought in by completed transfers (the restored contribution history).
CREATE TABLE restored_periods (
    person_ref    text   NOT NULL,
    case_id       text   NOT NULL,
    month         text   NOT NULL,
    from_region   text   NOT NULL,
    base_fen      bigint NOT NULL,
    kind          text   NOT NULL,
    account_fen   bigint NOT NULL,
    PRIMARY KEY (case_id, month)
);

CREATE TABLE transfers_view (
    case_id           text        PRIMARY KEY,
    direction         text        NOT NULL CHECK (direction IN ('in', 'out')),
    person_ref        text        NOT NULL,
    from_region       text        NOT NULL,
    to_region         text        NOT NULL,
    channel           text,
    status            text        NOT NULL,
    started_at        timestamptz NOT NULL,
    ended_at          timestamptz,
    reason_code       text,
    reason            text,
    individual_fen    bigint,
    pooled_fen        bigint,
    temporary_account boolean     NOT NULL DEFAULT false,
    trace_id          text
);
CREATE INDEX transfers_open ON transfers_view (started_at) WHERE ended_at IS NULL;

CREATE TABLE transfer_steps (
    case_id text        NOT NULL,
    step    text        NOT NULL,
    region  text        NOT NULL,
    at      timestamptz NOT NULL,
    detail  text,
    PRIMARY KEY (case_id, step)
);
