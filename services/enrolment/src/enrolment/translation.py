"""Private enrolment events -> public contracts (one small case per event).

Enrolments, contributions and breaches leave in version 2, a line per person: the recorder joins a
chunk's lines of one employer's month into one message (addressed, as its envelope's subject, to the
employer), so a payroll of a hundred people's month is three messages, not three hundred; and the
people one decision enrolled (a file of them, whatever their employers) into one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from pydantic import BaseModel

from contracts.enrolment.events import (
    AssessedLineV2,
    ContributionAssessedV2,
    ContributionPaidV2,
    DeadlineBreachedV2,
    EmployeeEnrolledV2,
    EmployerRegisteredV1,
    EmploymentEndedV1,
    EnrolledLineV2,
    InjuryClassSetV1,
    PaidLineV2,
)
from enrolment.domain import events as e
from enrolment.domain.model import employer_stream, registration_due
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
                registered.append(_breach("employer_registration", stream_id, due_on))
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
            line = EnrolledLineV2(
                person_ref=event.person_ref,
                citizen_id=event.citizen_id,
                employer_credit_code=event.employer_credit_code,
                schemes=list(event.schemes),
                hired_on=event.hired_on,
                base_fen=event.base_fen,
                late=event.late,
            )
            enrolled = [Published("employee_enrolled", EmployeeEnrolledV2(lines=[line]), 2)]
            if event.late:
                due_on = event.hired_on + timedelta(days=30)
                enrolled.append(_breach("employee_registration", stream_id, due_on))
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
            assessed = ContributionAssessedV2(
                employer_credit_code=event.employer_credit_code,
                region=region,
                month=event.month,
                due_on=event.due_on,
                lines=[
                    AssessedLineV2(
                        person_ref=event.person_ref,
                        citizen_id=event.citizen_id,
                        base_fen=event.base_fen,
                        employer_total_fen=event.employer_total_fen,
                        worker_total_fen=event.worker_total_fen,
                        pension_employer_fen=pension[1],
                        account_fen=event.account_fen,
                    )
                ],
            )
            return [_payroll("contribution_assessed", assessed, event.employer_credit_code)]
        case e.ContributionPaid():
            paid = ContributionPaidV2(
                employer_credit_code=event.employer_credit_code,
                month=event.month,
                paid_on=event.paid_on,
                lines=[
                    PaidLineV2(
                        person_ref=event.person_ref, amount_fen=event.amount_fen, late_fee_fen=event.late_fee_fen
                    )
                ],
            )
            return [_payroll("contribution_paid", paid, event.employer_credit_code)]
        case e.EmployerRegistrationOverdue():
            return [_breach("employer_registration", stream_id, event.due_on)]
        case e.ContributionOverdue():
            breach = DeadlineBreachedV2(kind="contribution_due", due_on=event.due_on, stream_ids=[stream_id])
            return [_payroll("deadline_breached", breach, event.employer_credit_code)]
        case _:
            return []


def _breach(kind: str, stream_id: str, due_on: date) -> Published:
    return Published("deadline_breached", DeadlineBreachedV2(kind=kind, due_on=due_on, stream_ids=[stream_id]), 2)


def _payroll(message: str, data: BaseModel, employer_credit_code: str) -> Published:
    """A line of an employer's month: joined with the other lines of the same decision."""
    return Published(message, data, 2, subject=employer_stream(employer_credit_code))
