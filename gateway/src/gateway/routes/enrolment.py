"""Enrolment routes (参保登记): the zero-touch feed, employers, employees, contributions, figures.

Citizen ID numbers travel only in request bodies, never in paths (paths are logged and traced).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import Path, Query, Request

from contracts.enrolment import commands as c
from contracts.envelope import ActorKind, Channel
from gateway.auth import Caller, ChannelHeader, forbidden, require_operator_of, require_operator_or
from gateway.problems import ProblemError
from gateway.routes.common import IdempotencyKey, Region, send
from gateway.routing import GatedRouter

router = GatedRouter(prefix="/v1/regions/{region}", tags=["enrolment"])

SERVICE = "enrolment"


async def _send(
    request: Request,
    region: str,
    name: str,
    data: Any,
    actor: Any,
    channel: Channel,
    key: str | None = None,
    kind: str = "cmd",
) -> Any:
    return await send(request, SERVICE, region, name, data, actor, channel, key, kind)


@router.post("/feeds/market-registrations", status_code=200)
async def import_market_registrations(
    region: Region,
    body: c.MarketRegistrationBatch,
    request: Request,
    actor: Caller,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Zero-touch registration (零跑动): each record of the market-registration feed registers its employer.

    A record whose credit code fails its check character is held for review, not refused. The same
    record twice is one employer. Answers one result per record, in order.
    """
    require_operator_or(region, actor, system=True)

    async def one(index: int, record: c.MarketRegistrationRecord) -> dict[str, Any]:
        data = c.ImportMarketRegistration(**record.model_dump())
        key = f"{idempotency_key}:{index}" if idempotency_key else f"feed:{record.record_id}"
        try:
            result: dict[str, Any] = await _send(
                request, region, "import_market_registration", data, actor, Channel.SYSTEM, key
            )
        except ProblemError as refused:
            return {"record_id": record.record_id, "problem": refused.problem.model_dump(exclude_none=True)}
        return {"record_id": record.record_id, **result}

    results = await asyncio.gather(*(one(i, r) for i, r in enumerate(body.records)))
    return {"results": results}


@router.post("/employers", status_code=201)
async def register_employer(
    region: Region,
    body: c.RegisterEmployer,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Register an employer at a counter (单位参保登记); its risk class is matched from the industry code.

    Refused with 409 if already registered; an industry code spanning classes goes to the review queue.
    """
    require_operator_of(region, actor)
    result: dict[str, Any] = await _send(request, region, "register_employer", body, actor, channel, idempotency_key)
    return result


CreditCodePath = Annotated[str, Path(min_length=18, max_length=18, description="Unified social credit code.")]


@router.get("/employers/{credit_code}")
async def get_employer(region: Region, credit_code: CreditCodePath, request: Request, actor: Caller) -> dict[str, Any]:
    """An employer as registered: route (zero-touch or manual), channel, risk class, tier and rate."""
    require_operator_or(region, actor, employer=credit_code)
    data = c.GetEmployer(credit_code=credit_code)
    result: dict[str, Any] = await _send(request, region, "get_employer", data, actor, Channel.SYSTEM, kind="query")
    return result


@router.post("/employers/{credit_code}/injury-class")
async def assign_injury_class(
    region: Region,
    credit_code: CreditCodePath,
    body: c.AssignInjuryClass,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Settle an employer's work-injury risk class and rate tier (after review, or the annual float)."""
    require_operator_of(region, actor)
    if body.credit_code != credit_code:
        raise forbidden("the body names another employer than the path")
    result: dict[str, Any] = await _send(request, region, "assign_injury_class", body, actor, channel, idempotency_key)
    return result


@router.get("/review-queue")
async def review_queue(
    region: Region, request: Request, actor: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[Any]:
    """Feed records held for a bad check character, and employers whose industry code spans classes."""
    require_operator_of(region, actor)
    result: list[Any] = await _send(
        request, region, "list_review_queue", c.ListReviewQueue(limit=limit), actor, Channel.SYSTEM, kind="query"
    )
    return result


@router.post("/review-queue/{credit_code}/approve")
async def approve_held_registration(
    region: Region,
    credit_code: CreditCodePath,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Confirm a feed record held for its check character (some real codes fail it): the employer is registered."""
    require_operator_of(region, actor)
    data = c.ApproveHeldRegistration(credit_code=credit_code)
    result: dict[str, Any] = await _send(
        request, region, "approve_held_registration", data, actor, channel, idempotency_key
    )
    return result


def _employer_command(region: str, actor: Any, employer: str) -> None:
    require_operator_or(region, actor, employer=employer)


def _employers_lines(region: str, actor: Any, lines: Sequence[c.EnrolEmployee | c.EndEmployment]) -> None:
    """A file's lines: an operator's, or an employer's when every line is its own."""
    for employer in sorted({line.employer_credit_code for line in lines}):
        _employer_command(region, actor, employer)


@router.post("/employees", status_code=201)
async def enrol_employee(
    region: Region,
    body: c.EnrolEmployee,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """An employer enrols an employee; the base is clamped to 60%-300% of the region's average wage.

    Refused if the employer is not registered, a scheme is not offered in the region, or the person
    already holds an active pension enrolment here or in another pooling area.
    """
    _employer_command(region, actor, body.employer_credit_code)
    result: dict[str, Any] = await _send(request, region, "enrol_employee", body, actor, channel, idempotency_key)
    return result


@router.post("/employees/batch")
async def enrol_employees(
    region: Region,
    body: c.EnrolEmployees,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Enrol up to 100 employees at once (批量增员: an employer's hires, or a service platform's
    file of many employers'; an employer may send only its own), all through the channel named in
    `X-Channel`. Each line is decided as `POST .../employees` decides one and answered in the
    order sent: what it enrolled, or the `problem` that refused it (the same status and type as
    alone), which does not stop the other lines. `enrolled` and `refused` count them."""
    _employers_lines(region, actor, body.enrolments)
    result: dict[str, Any] = await _send(request, region, "enrol_employees", body, actor, channel, idempotency_key)
    return result


@router.post("/employments/end")
async def end_employment(
    region: Region,
    body: c.EndEmployment,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """End an employee's enrolment with the employer."""
    _employer_command(region, actor, body.employer_credit_code)
    result: dict[str, Any] = await _send(request, region, "end_employment", body, actor, channel, idempotency_key)
    return result


@router.post("/employments/end/batch")
async def end_employments(
    region: Region,
    body: c.EndEmployments,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """End up to 100 employments at once (批量减员; an employer may send only its own), all through
    the channel named in `X-Channel`. Each line is decided as `POST .../employments/end` decides
    one and answered in the order sent: the day it ended, or the `problem` that refused it, which
    does not stop the other lines. `ended` and `refused` count them."""
    _employers_lines(region, actor, body.ends)
    result: dict[str, Any] = await _send(request, region, "end_employments", body, actor, channel, idempotency_key)
    return result


@router.post("/bases")
async def declare_base(
    region: Region,
    body: c.DeclareBase,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Declare an employee's yearly contribution base (last year's average monthly wage)."""
    _employer_command(region, actor, body.employer_credit_code)
    result: dict[str, Any] = await _send(request, region, "declare_base", body, actor, channel, idempotency_key)
    return result


@router.post("/contributions/assessments")
async def assess_contributions(
    region: Region, body: c.AssessContributions, request: Request, actor: Caller, idempotency_key: IdempotencyKey = None
) -> dict[str, Any]:
    """Assess a month's contributions for every employee of an employer (operators); a month assessed
    after its due date is overdue at once (`overdue` counts those people)."""
    require_operator_of(region, actor)
    result: dict[str, Any] = await _send(
        request, region, "assess_contributions", body, actor, Channel.SYSTEM, idempotency_key
    )
    return result


@router.post("/contributions/assessments/batch")
async def assess_employers(
    region: Region, body: c.AssessEmployers, request: Request, actor: Caller, idempotency_key: IdempotencyKey = None
) -> dict[str, Any]:
    """Assess a month's contributions for every employee of each of up to 100 employers at once
    (operators; the agency's monthly run, a batch of employers per request); refused whole before
    anything is assessed: 404 `employer-not-found`, 409 `injury-rate-pending`, 422
    `assessment-batch-too-large` (more than 5,000 people: send fewer employers at a time)."""
    require_operator_of(region, actor)
    result: dict[str, Any] = await _send(
        request, region, "assess_employers", body, actor, Channel.SYSTEM, idempotency_key
    )
    return result


@router.post("/contributions/payments")
async def record_payment(
    region: Region,
    body: c.RecordPayment,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Record an employer's payment of a month; late fee 0.05% a day past the due date (art. 86)."""
    require_operator_of(region, actor)
    result: dict[str, Any] = await _send(request, region, "record_payment", body, actor, channel, idempotency_key)
    return result


@router.post("/contributions/payments/batch")
async def record_payments(
    region: Region,
    body: c.RecordPayments,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Record up to 100 employers' payments at once (operators; a day's collection file, a line per
    employer and month, all through the channel named in `X-Channel`): each line answers what it paid,
    its late fees, and the people on its payroll whom the month's assessment did not reach (not paid).
    Refused whole before anything is paid: 404 `employer-not-found`, 422 `payment-batch-too-large`
    (more than 5,000 people: send fewer lines at a time)."""
    require_operator_of(region, actor)
    result: dict[str, Any] = await _send(request, region, "record_payments", body, actor, channel, idempotency_key)
    return result


@router.post("/people/lookup")
async def look_up_person(region: Region, body: c.GetPerson, request: Request, actor: Caller) -> dict[str, Any]:
    """A person's enrolments and contribution history (operators; the ID number goes in the body)."""
    require_operator_of(region, actor)
    result: dict[str, Any] = await _send(request, region, "get_person", body, actor, Channel.SYSTEM, kind="query")
    return result


@router.get("/me/enrolment")
async def my_enrolment(region: Region, request: Request, actor: Caller) -> dict[str, Any]:
    """A citizen's own enrolments and contribution history."""
    if actor.kind is not ActorKind.CITIZEN:
        raise forbidden("citizens only")
    data = c.GetPerson(citizen_id=request.state.citizen_id)
    result: dict[str, Any] = await _send(request, region, "get_person", data, actor, Channel.SYSTEM, kind="query")
    return result


@router.get("/statistics/enrolment")
async def enrolment_figures(
    region: Region, request: Request, actor: Caller, first: Annotated[date, Query()], last: Annotated[date, Query()]
) -> dict[str, Any]:
    """Employers by route, median feed-to-registered time, employees by scheme, classes and tiers, contributions."""
    require_operator_of(region, actor)
    data = c.EnrolmentFigures(first=first, last=last)
    result: dict[str, Any] = await _send(
        request, region, "enrolment_figures", data, actor, Channel.SYSTEM, kind="query"
    )
    return result
