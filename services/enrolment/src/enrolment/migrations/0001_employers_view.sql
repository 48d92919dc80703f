CREATE TABLE employers_view (
    employer_id    text        PRIMARY KEY,
    credit_code    text        NOT NULL UNIQUE,
    name           text        NOT NULL,
    division_code  text        NOT NULL,
    industry_code  text        NOT NULL,
    established_on date        NOT NULL,
    route          text        NOT NULL,
    channel        text,
    registered_at  timestamptz NOT NULL
);
