"""Request table of the enrolment service (command and query names -> handlers) and its error table."""

from __future__ import annotations

from functools import partial
from typing import Any

import asyncpg

from contracts.enrolment import commands as c
from contracts.envelope import Envelope
from enrolment import queries
from enrolment.application import employers, people
from enrolment.application.ports import Deadlines, PensionRegistry, People, RateBook, Recorder
from enrolment.domain import errors
from enrolment.domain.person_state import Person, person_stream
from enrolment.domain.values import Scheme
from enrolment.entrypoints.peers import PensionCheckUnavailableError
from runtime.clock import Clock
from runtime.eventstore import EventStore
from runtime.messaging import RequestHandler
from runtime.recording import FoldedStreams
from runtime.requests import ErrorTable, command, command_across, query, refusal

ERRORS: ErrorTable = {
    errors.EmployerAlreadyRegisteredError: (409, "employer-already-registered"),
    errors.EmployerNotFoundError: (404, "employer-not-found"),
    errors.EstablishedInFutureError: (422, "established-in-future"),
    errors.InvalidIndustryCodeError: (422, "invalid-industry-code"),
    errors.InvalidTierError: (422, "invalid-tier"),
    errors.InvalidRiskClassError: (422, "invalid-risk-class"),
    errors.NoRateTableError: (422, "no-rate-table"),
    errors.SchemeNotOfferedError: (422, "scheme-not-offered"),
    errors.InvalidAmountError: (422, "invalid-amount"),
    errors.HiredInFutureError: (422, "hired-in-future"),
    errors.AlreadyEnrolledError: (409, "already-enrolled"),
    errors.DoublePensionEnrolmentError: (409, "double-pension-enrolment"),
    errors.NotEnrolledError: (404, "not-enrolled"),
    errors.InvalidDateError: (422, "invalid-date"),
    errors.NothingAssessedError: (404, "nothing-assessed"),
    errors.AssessmentBatchTooLargeError: (422, "assessment-batch-too-large"),
    errors.PaymentBatchTooLargeError: (422, "payment-batch-too-large"),
    errors.EmployerNotHeldError: (404, "employer-not-held"),
    errors.InjuryRatePendingError: (409, "injury-rate-pending"),
    errors.EnrolmentError: (422, "enrolment-rule"),
    PensionCheckUnavailableError: (503, "pension-check-unavailable"),
}


class PersonNotFoundError(errors.EnrolmentError):
    def __init__(self) -> None:
        super().__init__("no enrolment found for this person")


def line_problem(error: Exception) -> dict[str, Any]:
    """A line of a file the rules refused: its problem, as the line sent alone would be answered."""
    known = refusal(error, ERRORS)
    if known is None:
        raise error
    return known.model_dump(mode="json", exclude_none=True)


def request_table(
    store: EventStore,
    pool: asyncpg.Pool,
    clock: Clock,
    *,
    recorder: Recorder,
    rates: RateBook,
    people_port: People,
    pensions: PensionRegistry,
    persons: FoldedStreams[Person],
    deadlines: Deadlines,
) -> dict[str, RequestHandler]:
    def cmd(model: Any, handler: Any, **deps: Any) -> RequestHandler:
        return command(store, clock, model, partial(handler, **deps), ERRORS)

    def across(model: Any, handler: Any, **deps: Any) -> RequestHandler:
        return command_across(store, clock, model, partial(handler, **deps), ERRORS)

    # What every employer's use case takes (its streams read whole), and every person's (states kept).
    on_employers: dict[str, Any] = {"recorder": recorder, "rates": rates}
    on_people: dict[str, Any] = {"people": people_port, "persons": persons}
    # An assessment's, one employer's or a batch's: the employers' streams are read whole (`recorder`).
    on_assessments: dict[str, Any] = {"recorder": recorder, "rates": rates, "deadlines": deadlines, **on_people}

    async def get_employer(q: c.GetEmployer, _: Envelope[c.GetEmployer]) -> dict[str, Any]:
        found = await queries.get_employer(pool, q.credit_code)
        if found is None:
            raise errors.EmployerNotFoundError(q.credit_code)
        return found

    async def get_person(q: c.GetPerson, _: Envelope[c.GetPerson]) -> dict[str, Any]:
        found = await queries.get_person(pool, people_port.ref(q.citizen_id))
        if found is None:
            raise PersonNotFoundError
        return found

    async def review_queue(q: c.ListReviewQueue, _: Envelope[c.ListReviewQueue]) -> list[Any]:
        return await queries.review_queue(pool, q.limit)

    async def active_pension(q: c.ActivePension, _: Envelope[c.ActivePension]) -> dict[str, Any]:
        """One person (what regions running an earlier version ask)."""
        (active,) = await people_port.active_pensions([(q.person_ref, q.month)])
        return {"active": active}

    async def active_pensions(q: c.ActivePensions, _: Envelope[c.ActivePensions]) -> dict[str, Any]:
        return {"active": await people_port.active_pensions([(a.person_ref, a.month) for a in q.asked])}

    async def person_standing(q: c.PersonStanding, _: Envelope[c.PersonStanding]) -> dict[str, Any]:
        """By the person's stream, not a view: the transfer service asks when its copy says no."""
        async with store.transaction() as tx:
            person = (await persons.load(tx, person_stream(q.person_ref))).state
        enrolled = any(Scheme.PENSION.value in e.schemes and e.ended_on is None for e in person.enrolments.values())
        return {"enrolled": enrolled, "months": len({month for _, month in person.assessments})}

    async def figures(q: c.EnrolmentFigures, _: Envelope[c.EnrolmentFigures]) -> dict[str, Any]:
        return await queries.figures(pool, q.first, q.last)

    return {
        "import_market_registration": cmd(
            c.ImportMarketRegistration, employers.import_market_registration, deadlines=deadlines, **on_employers
        ),
        "register_employer": cmd(c.RegisterEmployer, employers.register_employer, deadlines=deadlines, **on_employers),
        "approve_held_registration": cmd(
            c.ApproveHeldRegistration, employers.approve_held_registration, deadlines=deadlines, **on_employers
        ),
        "assign_injury_class": cmd(c.AssignInjuryClass, employers.assign_injury_class, **on_employers),
        "enrol_employee": command(
            store,
            clock,
            c.EnrolEmployee,
            partial(people.enrol_employee, rates=rates, **on_people),
            ERRORS,
            ask=partial(people.pension_elsewhere, people=people_port, pensions=pensions),
        ),
        "enrol_employees": command(
            store,
            clock,
            c.EnrolEmployees,
            partial(people.enrol_employees, refused=line_problem, rates=rates, **on_people),
            ERRORS,
            ask=partial(people.pensions_elsewhere, people=people_port, pensions=pensions),
        ),
        "end_employment": cmd(c.EndEmployment, people.end_employment, **on_people),
        "end_employments": cmd(c.EndEmployments, people.end_employments, refused=line_problem, **on_people),
        "declare_base": cmd(c.DeclareBase, people.declare_base, rates=rates, **on_people),
        "assess_contributions": across(c.AssessContributions, people.assess_contributions, **on_assessments),
        "assess_employers": across(c.AssessEmployers, people.assess_employers, **on_assessments),
        "record_payment": across(c.RecordPayment, people.record_payment, deadlines=deadlines, **on_people),
        "record_payments": across(
            c.RecordPayments, people.record_payments, recorder=recorder, deadlines=deadlines, **on_people
        ),
        "get_employer": query(c.GetEmployer, get_employer, ERRORS),
        "get_person": query(c.GetPerson, get_person, ERRORS),
        "list_review_queue": query(c.ListReviewQueue, review_queue, ERRORS),
        "active_pension": query(c.ActivePension, active_pension, ERRORS),
        "active_pensions": query(c.ActivePensions, active_pensions, ERRORS),
        "person_standing": query(c.PersonStanding, person_standing, ERRORS),
        "enrolment_figures": query(c.EnrolmentFigures, figures, ERRORS),
    }
