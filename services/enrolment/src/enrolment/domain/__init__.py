"""The enrolment domain: plain Python, no I/O."""
