"""The injury commands a test runs to reach a state: a hospital's agreement for 2026, an accepted
(not yet decided) determination. The unit tests run them on the in-memory store, the integration
tests on PostgreSQL."""

from __future__ import annotations

from datetime import date

from contracts.injury import commands as c


def agreement_for_2026(hospital_id: str) -> c.SignAgreement:
    return c.SignAgreement(
        hospital_id=hospital_id,
        name=hospital_id,
        signed_on=date(2026, 1, 1),
        valid_from=date(2026, 1, 1),
        valid_to=date(2026, 12, 31),
    )


def accepted_determination(
    determination_id: str, citizen_id: str, *, injured: date
) -> tuple[c.ApplyForDetermination, c.AcceptDetermination]:
    """The employer's application and its acceptance (facts not clear: 60 days to decide)."""
    apply = c.ApplyForDetermination(
        determination_id=determination_id, citizen_id=citizen_id, employer_id="E", injury_date=injured
    )
    return apply, c.AcceptDetermination(determination_id=determination_id, facts_clear=False)
