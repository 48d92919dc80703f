"""Enrolment (参保登记): employers, employees, contributions."""
