-- Contact letters answered "unpaid months remain": found again when a contribution of the person is paid.
CREATE TABLE waiting_letters (
    case_id    text PRIMARY KEY,
    person_ref text NOT NULL
);
CREATE INDEX waiting_letters_person ON waiting_letters (person_ref);
