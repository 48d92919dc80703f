"""Private enrolment events -> public contracts (one small case per event)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from contracts.enrolment.events import (
    ContributionAssessedV1,
    ContributionPaidV1,
    DeadlineBreachedV1,
    EmployeeEnrolledV1,
    EmployerRegisteredV1,
    EmploymentEndedV1,
    InjuryClassSetV1,
)
from enrolment.domain import events as e
from enrolment.domain.model import registration_due
from enrolment.domain.values import Scheme
from runtime.recording import Published
from runtime.workdays import local_date


def to_public(event: e.Event, stream_id: str, *, region: str) -> Sequence[Published]:
    match event:
        case e.EmployerRegistered():
            registered = [
                Published(
                    "employer_registered",
                    EmployerRegisteredV1(
                        employer_id=stream_id,
                        credit_code=event.credit_code,
                        name=event.name,
                        division_code=event.division_code,
                        industry_code=event.industry_code,
                        established_on=event.established_on,
                        route=event.route,
                        registered_at=event.registered_at,
                    ),
                )
            ]
            due_on = registration_due(event.established_on)
            if local_date(event.registered_at) > due_on:
                breach = DeadlineBreachedV1(kind="employer_registration", stream_id=stream_id, due_on=due_on)
                registered.append(Published("deadline_breached", breach))
            return registered
        case e.InjuryClassMatched() | e.InjuryClassAssigned():
            how = "matched" if isinstance(event, e.InjuryClassMatched) else "assigned"
            return [
                Published(
                    "injury_class_set",
                    InjuryClassSetV1(
                        credit_code=event.credit_code,
                        risk_class=event.risk_class,
                        tier=event.tier,
                        rate=event.rate,
                        how=how,
                    ),
                )
            ]
        case e.EmployeeEnrolled():
            enrolled = [
                Published(
                    "employee_enrolled",
                    EmployeeEnrolledV1(
                        person_ref=event.person_ref,
                        citizen_id=event.citizen_id,
                        employer_credit_code=event.employer_credit_code,
                        schemes=list(event.schemes),
                        hired_on=event.hired_on,
                        base_fen=event.base_fen,
                        late=event.late,
                    ),
                )
            ]
            if event.late:
                due_on = event.hired_on + timedelta(days=30)
                breach = DeadlineBreachedV1(kind="employee_registration", stream_id=stream_id, due_on=due_on)
                enrolled.append(Published("deadline_breached", breach))
            return enrolled
        case e.EmploymentEnded():
            return [
                Published(
                    "employment_ended",
                    EmploymentEndedV1(
                        person_ref=event.person_ref,
                        employer_credit_code=event.employer_credit_code,
                        ended_on=event.ended_on,
                    ),
                )
            ]
        case e.ContributionAssessed():
            pension = next(
                (line for line in event.lines if line[0] == Scheme.PENSION.value), (Scheme.PENSION.value, 0, 0)
            )
            return [
                Published(
                    "contribution_assessed",
                    ContributionAssessedV1(
                        person_ref=event.person_ref,
                        citizen_id=event.citizen_id,
                        employer_credit_code=event.employer_credit_code,
                        region=region,
                        month=event.month,
                        base_fen=event.base_fen,
                        employer_total_fen=event.employer_total_fen,
                        worker_total_fen=event.worker_total_fen,
                        pension_employer_fen=pension[1],
                        account_fen=event.account_fen,
                        due_on=event.due_on,
                    ),
                )
            ]
        case e.ContributionPaid():
            return [
                Published(
                    "contribution_paid",
                    ContributionPaidV1(
                        person_ref=event.person_ref,
                        employer_credit_code=event.employer_credit_code,
                        month=event.month,
                        amount_fen=event.amount_fen,
                        late_fee_fen=event.late_fee_fen,
                        paid_on=event.paid_on,
                    ),
                )
            ]
        case e.EmployerRegistrationOverdue():
            breach = DeadlineBreachedV1(kind="employer_registration", stream_id=stream_id, due_on=event.due_on)
            return [Published("deadline_breached", breach)]
        case e.ContributionOverdue():
            breach = DeadlineBreachedV1(kind="contribution_due", stream_id=stream_id, due_on=event.due_on)
            return [Published("deadline_breached", breach)]
        case _:
            return []
