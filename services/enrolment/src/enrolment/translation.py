"""Private enrolment events -> public contracts (one small case per event).

Enrolments, their ends, contributions and breaches leave with a line per person (enrolments and
ends in version 2, the others in version 3): the recorder joins one decision's lines of a kind into
one message, whatever their employers, so a chunk of a hundred people's month is three messages,
not three hundred, and a file of enrolments or ends one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from contracts.enrolment.events import (
    AssessedLineV3,
    BreachLineV3,
    ContributionAssessedV3,
    ContributionPaidV3,
    DeadlineBreachedV3,
    EmployeeEnrolledV2,
    EmployerRegisteredV1,
    EmploymentEndedV2,
    EndedLineV2,
    EnrolledLineV2,
    InjuryClassSetV1,
    PaidLineV3,
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
                enrolled.append(_breach("employee_registration", stream_id, due_on, event.employer_credit_code))
            return enrolled
        case e.EmploymentEnded():
            ended = EndedLineV2(
                person_ref=event.person_ref, employer_credit_code=event.employer_credit_code, ended_on=event.ended_on
            )
            return [Published("employment_ended", EmploymentEndedV2(lines=[ended]), 2)]
        case e.ContributionAssessed():
            pension = next(
                (line for line in event.lines if line[0] == Scheme.PENSION.value), (Scheme.PENSION.value, 0, 0)
            )
            assessed = ContributionAssessedV3(
                region=region,
                month=event.month,
                due_on=event.due_on,
                lines=[
                    AssessedLineV3(
                        person_ref=event.person_ref,
                        citizen_id=event.citizen_id,
                        employer_credit_code=event.employer_credit_code,
                        base_fen=event.base_fen,
                        employer_total_fen=event.employer_total_fen,
                        worker_total_fen=event.worker_total_fen,
                        pension_employer_fen=pension[1],
                        account_fen=event.account_fen,
                    )
                ],
            )
            return [Published("contribution_assessed", assessed, 3)]
        case e.ContributionPaid():
            paid = ContributionPaidV3(
                month=event.month,
                paid_on=event.paid_on,
                lines=[
                    PaidLineV3(
                        person_ref=event.person_ref,
                        employer_credit_code=event.employer_credit_code,
                        amount_fen=event.amount_fen,
                        late_fee_fen=event.late_fee_fen,
                    )
                ],
            )
            return [Published("contribution_paid", paid, 3)]
        case e.EmployerRegistrationOverdue():
            return [_breach("employer_registration", stream_id, event.due_on)]
        case e.ContributionOverdue():
            return [_breach("contribution_due", stream_id, event.due_on, event.employer_credit_code)]
        case _:
            return []


def _breach(kind: str, stream_id: str, due_on: date, employer_credit_code: str | None = None) -> Published:
    """A breach line of a stream (an employer's own, or a person's with the employer whose it was),
    joined with the decision's other breaches of its kind."""
    line = BreachLineV3(stream_id=stream_id, due_on=due_on, employer_credit_code=employer_credit_code)
    return Published("deadline_breached", DeadlineBreachedV3(kind=kind, lines=[line]), 3)
