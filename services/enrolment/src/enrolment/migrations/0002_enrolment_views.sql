ALTER TABLE employers_view
    ADD COLUMN risk_class           integer,
    ADD COLUMN tier                 numeric(4, 2),
    ADD COLUMN injury_rate          numeric(8, 6),
    ADD COLUMN needs_review         boolean NOT NULL DEFAULT false,
    ADD COLUMN market_registered_at timestamptz,
    ADD COLUMN overdue              boolean NOT NULL DEFAULT false;

-- What a clerk must look at: feed records held for a bad check character, and employers whose
-- industry code spans risk classes. A row leaves the queue when it is settled.
CREATE TABLE review_queue (
    employer_id   text        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('credit_code', 'risk_class')),
    credit_code   text        NOT NULL,
    name          text,
    industry_code text,
    reason        text        NOT NULL,
    candidates    integer[],
    since         timestamptz NOT NULL,
    PRIMARY KEY (employer_id, kind)
);

CREATE TABLE enrolments_view (
    person_ref           text        NOT NULL,
    employer_credit_code text        NOT NULL,
    citizen_id           text        NOT NULL,
    schemes              text[]      NOT NULL,
    hired_on             date        NOT NULL,
    ended_on             date,
    base_fen             bigint      NOT NULL,
    late                 boolean     NOT NULL,
    enrolled_at          timestamptz NOT NULL,
    channel              text,
    PRIMARY KEY (person_ref, employer_credit_code)
);
CREATE INDEX enrolments_by_employer ON enrolments_view (employer_credit_code);

CREATE TABLE contributions_view (
    person_ref           text    NOT NULL,
    employer_credit_code text    NOT NULL,
    month                text    NOT NULL,
    citizen_id           text    NOT NULL,
    base_fen             bigint  NOT NULL,
    employer_total_fen   bigint  NOT NULL,
    worker_total_fen     bigint  NOT NULL,
    account_fen          bigint  NOT NULL,
    due_on               date    NOT NULL,
    paid_on              date,
    amount_paid_fen      bigint,
    late_fee_fen         bigint,
    overdue              boolean NOT NULL DEFAULT false,
    PRIMARY KEY (person_ref, employer_credit_code, month)
);
CREATE INDEX contributions_by_employer_month ON contributions_view (employer_credit_code, month);
