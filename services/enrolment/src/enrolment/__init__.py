"""Enrolment (参保登记): employers registered, employees enrolled, contributions recorded."""
