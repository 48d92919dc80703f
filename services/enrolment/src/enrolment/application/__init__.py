"""Enrolment use cases: one async handler per command."""
