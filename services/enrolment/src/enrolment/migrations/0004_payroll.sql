-- Who is enrolled with whom, written in the transaction of the enrolment or end of employment
-- itself (command side, not a view): a month's assessment and payment, and another region asking
-- whether a person holds a pension enrolment here, read it without waiting for the projector.
-- Until this table, they read enrolments_view and first brought it up to date, polling while
-- other transactions were open: in the simulated year, five looks per assessment on average.
CREATE TABLE payroll (
    employer_credit_code text   NOT NULL,
    person_ref           text   NOT NULL,
    citizen_id           text   NOT NULL,
    schemes              text[] NOT NULL,
    hired_on             date   NOT NULL,
    ended_on             date,
    PRIMARY KEY (employer_credit_code, person_ref)
);
CREATE INDEX payroll_by_person ON payroll (person_ref);

-- From the log, not from the view (which may lag): each person's latest enrolment with each
-- employer, ended if an end of that employment follows it in the person's stream.
INSERT INTO payroll (employer_credit_code, person_ref, citizen_id, schemes, hired_on, ended_on)
SELECT DISTINCT ON (e.data ->> 'employer_credit_code', e.stream_id)
    e.data ->> 'employer_credit_code',
    e.data ->> 'person_ref',
    e.data ->> 'citizen_id',
    ARRAY(SELECT jsonb_array_elements_text(e.data -> 'schemes')),
    (e.data ->> 'hired_on')::date,
    (
        SELECT (x.data ->> 'ended_on')::date
        FROM events x
        WHERE x.stream_id = e.stream_id
          AND x.version > e.version
          AND x.event_type = 'EmploymentEnded'
          AND x.data ->> 'employer_credit_code' = e.data ->> 'employer_credit_code'
        ORDER BY x.version DESC
        LIMIT 1
    )
FROM events e
WHERE e.event_type = 'EmployeeEnrolled'
ORDER BY e.data ->> 'employer_credit_code', e.stream_id, e.version DESC;
