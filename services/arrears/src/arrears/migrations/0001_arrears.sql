-- Read models of the wage-arrears service, fed in commit order from its event log. Each lead and
-- case keeps its dates, so the region's figures can be recomputed for any date range.

CREATE TABLE arrears_leads (
    lead_id        text        PRIMARY KEY,
    channel        text        NOT NULL,
    received_by    text        NOT NULL,
    received_at    timestamptz NOT NULL,
    employer_code  text        NOT NULL,
    employer_name  text        NOT NULL,
    division_code  text        NOT NULL,
    industry_code  text        NOT NULL,
    project        jsonb,
    period_from    date        NOT NULL,
    period_to      date        NOT NULL,
    summary        text        NOT NULL,
    workers        int         NOT NULL,
    claimed_fen    bigint      NOT NULL,
    reports        int         NOT NULL DEFAULT 1,
    district       text        NOT NULL,
    arrived_at     timestamptz NOT NULL,
    status         text        NOT NULL,
    case_id        text,
    refusal_reason text,
    explanation    text,
    answered_at    timestamptz,
    overdue        boolean     NOT NULL DEFAULT false
);
CREATE INDEX arrears_leads_district ON arrears_leads (district, status);
CREATE INDEX arrears_leads_received ON arrears_leads (received_at);

-- Every hop of a lead (流转), in order.
CREATE TABLE arrears_hops (
    lead_id       text        NOT NULL,
    hop           int         NOT NULL,
    from_district text        NOT NULL,
    to_district   text        NOT NULL,
    reason        text        NOT NULL,
    at            timestamptz NOT NULL,
    PRIMARY KEY (lead_id, hop)
);

CREATE TABLE arrears_cases (
    case_id          text        PRIMARY KEY,
    lead_id          text        NOT NULL,
    district         text        NOT NULL,
    channel          text        NOT NULL,
    industry_code    text        NOT NULL,
    employer_code    text        NOT NULL,
    employer_name    text        NOT NULL,
    project          jsonb,
    period_from      date        NOT NULL,
    period_to        date        NOT NULL,
    status           text        NOT NULL,
    filed_at         timestamptz NOT NULL,
    clock_started_at timestamptz NOT NULL,
    working_days     int         NOT NULL DEFAULT 60,
    workers          int         NOT NULL,
    claimed_fen      bigint      NOT NULL,
    paid_fen         bigint      NOT NULL DEFAULT 0,
    penalties_fen    bigint      NOT NULL DEFAULT 0,
    compensation_fen bigint      NOT NULL DEFAULT 0,
    outcome          text,
    close_reason     text,
    closed_at        timestamptz,
    transfer_target  text,
    transferred_to   text,
    transferred_at   timestamptz,
    review_reason    text,
    review_result    text,
    reopened         int         NOT NULL DEFAULT 0,
    overdue          boolean     NOT NULL DEFAULT false
);
CREATE INDEX arrears_cases_district ON arrears_cases (district, status);
CREATE INDEX arrears_cases_filed ON arrears_cases (filed_at);

-- The workers of a lead (kind 'lead') and of a case (kind 'case'); person_ref finds "my case".
CREATE TABLE arrears_workers (
    subject_id  text   NOT NULL,
    kind        text   NOT NULL CHECK (kind IN ('lead', 'case')),
    citizen_id  text   NOT NULL,
    person_ref  text   NOT NULL,
    claimed_fen bigint NOT NULL,
    paid_fen    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (subject_id, citizen_id)
);
CREATE INDEX arrears_workers_person ON arrears_workers (person_ref);

CREATE TABLE arrears_orders (
    case_id           text        NOT NULL,
    order_id          text        NOT NULL,
    liable_party      text        NOT NULL,
    amount_fen        bigint      NOT NULL,
    due_on            date        NOT NULL,
    status            text        NOT NULL,
    unpaid_at_due_fen bigint,
    compensation_fen  bigint,
    ordered_at        timestamptz NOT NULL,
    PRIMARY KEY (case_id, order_id)
);

-- Money recorded as paid to workers (negative: found not received by a review), by event.
CREATE TABLE arrears_payments (
    event_id   uuid        PRIMARY KEY,
    case_id    text        NOT NULL,
    payer      text        NOT NULL,
    kind       text        NOT NULL,
    amount_fen bigint      NOT NULL,
    at         timestamptz NOT NULL
);
CREATE INDEX arrears_payments_case ON arrears_payments (case_id);
CREATE INDEX arrears_payments_at ON arrears_payments (at);

-- Supervision (督办) of a stage past its limit; ended when the stage is answered or a new clock starts.
CREATE TABLE arrears_supervision (
    subject_id   text        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('lead', 'case')),
    stage        text        NOT NULL,
    district     text        NOT NULL,
    level        text        NOT NULL,
    supervisor   text        NOT NULL,
    due_at       timestamptz NOT NULL,
    opened_at    timestamptz NOT NULL,
    escalated_at timestamptz,
    ended_at     timestamptz,
    PRIMARY KEY (subject_id, opened_at)
);
CREATE INDEX arrears_supervision_open ON arrears_supervision (supervisor, level) WHERE ended_at IS NULL;

-- Every step of a lead or case, for its history (no citizen ids: reasons, amounts, districts).
CREATE TABLE arrears_steps (
    stream_id  text        NOT NULL,
    version    int         NOT NULL,
    subject_id text        NOT NULL,
    step       text        NOT NULL,
    district   text,
    amount_fen bigint,
    detail     text,
    at         timestamptz NOT NULL,
    PRIMARY KEY (stream_id, version)
);
CREATE INDEX arrears_steps_subject ON arrears_steps (subject_id, at);
