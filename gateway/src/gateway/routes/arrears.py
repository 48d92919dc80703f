"""Wage-arrears routes (欠薪): one-point intake, routing, the case actions, review, supervision, figures.

Complaints come from any channel (`X-Channel`): a worker online, a clerk at the hotline or the
labour-rights window, the national lead platform. Operators of the region act on leads and cases;
a worker sees only the complaints and cases they are among, other workers' ID numbers masked.
Citizen ID numbers travel only in request bodies, never in paths (paths are logged and traced).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import Path, Query, Request
from pydantic import BaseModel

from contracts.arrears import commands as c
from contracts.envelope import Actor, ActorKind, Channel
from contracts.identifiers import DivisionCode
from contracts.replies import problem
from gateway.auth import Caller, ChannelHeader, forbidden, require_operator_of, require_operator_or
from gateway.problems import ProblemError
from gateway.routes.common import IdempotencyKey, Region, send
from gateway.routing import GatedRouter

router = GatedRouter(prefix="/v1/regions/{region}", tags=["arrears"])

SERVICE = "arrears"
LeadIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="A lead's id, as intake answered it.")]
CaseIdPath = Annotated[str, Path(min_length=8, max_length=64, description="A case's id, as acceptance answered it.")]
District = Annotated[DivisionCode, Query(description="A district's GB/T 2260 code.")]

M = TypeVar("M", bound=BaseModel)


async def _send(
    request: Request,
    region: str,
    name: str,
    data: Any,
    actor: Any,
    channel: Channel = Channel.SYSTEM,
    key: str | None = None,
    kind: str = "cmd",
) -> Any:
    return await send(request, SERVICE, region, name, data, actor, channel, key, kind)


def _with_id(model: type[M], body: BaseModel, **ids: str) -> M:
    """The command for a lead or case named in the path: its id with the body's fields."""
    return model.model_validate({**body.model_dump(), **ids})


def _citizen_id(request: Request) -> str:
    citizen_id: str = request.state.citizen_id
    return citizen_id


@router.post("/arrears/complaints", status_code=201)
async def receive_complaint(
    region: Region,
    body: c.ReceiveComplaint,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """One-point intake (一点受理): a complaint from any channel at any district of the region.

    A worker complains online for themselves and co-workers (their own ID number among the workers);
    a clerk records one from the hotline or the window; the national lead platform feeds its leads.
    The same employer, workers and wage period again is the same lead (`reported_again`). A lead
    whose employer or project is in a district the region knows goes there at once.
    """
    if actor.kind is ActorKind.CITIZEN:
        if _citizen_id(request) not in {w.citizen_id for w in body.workers}:
            raise forbidden("a worker complains about wages owed to them: your ID number is not among the workers")
    else:
        require_operator_or(region, actor, system=True)
    result: dict[str, Any] = await _send(request, region, "receive_complaint", body, actor, channel, idempotency_key)
    return result


@router.get("/arrears/leads/{lead_id}")
async def get_lead(region: Region, lead_id: LeadIdPath, request: Request, actor: Caller) -> dict[str, Any]:
    """A lead: where it came in, every hop (流转) with its reason, its workers, its steps and supervision."""
    require_operator_of(region, actor)
    result: dict[str, Any] = await _send(request, region, "get_lead", c.GetLead(lead_id=lead_id), actor, kind="query")
    return result


@router.post("/arrears/leads/{lead_id}/routing")
async def route_lead(
    region: Region,
    lead_id: LeadIdPath,
    body: c.RouteLeadRequest,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Pass a waiting lead on to another district of the region with the reason; refused (422
    unknown-district) for a district the region does not know."""
    require_operator_of(region, actor)
    data = _with_id(c.RouteLead, body, lead_id=lead_id)
    result: dict[str, Any] = await _send(request, region, "route_lead", data, actor, channel, idempotency_key)
    return result


@router.post("/arrears/leads/{lead_id}/acceptance")
async def accept_complaint(
    region: Region,
    lead_id: LeadIdPath,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """The district the lead waits at accepts it and files the case (60 working days to close it)."""
    require_operator_of(region, actor)
    data = c.AcceptComplaint(lead_id=lead_id)
    result: dict[str, Any] = await _send(request, region, "accept_complaint", data, actor, channel, idempotency_key)
    return result


@router.post("/arrears/leads/{lead_id}/refusal")
async def refuse_complaint(
    region: Region,
    lead_id: LeadIdPath,
    body: c.RefuseComplaintRequest,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """The district refuses the complaint in writing: past the two-year limit, not a wage matter, ..."""
    require_operator_of(region, actor)
    data = _with_id(c.RefuseComplaint, body, lead_id=lead_id)
    result: dict[str, Any] = await _send(request, region, "refuse_complaint", data, actor, channel, idempotency_key)
    return result


@router.get("/arrears/cases")
async def district_list(
    region: Region,
    request: Request,
    actor: Caller,
    district: District,
    open_only: Annotated[bool, Query()] = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """A district's list: leads waiting for its answer and its cases, with each stage's due instant."""
    require_operator_of(region, actor)
    data = c.ListDistrictCases(district=district, open_only=open_only, limit=limit)
    result: dict[str, Any] = await _send(request, region, "list_district_cases", data, actor, kind="query")
    return result


@router.get("/arrears/supervision")
async def supervised(
    region: Region,
    request: Request,
    actor: Caller,
    supervisor: Annotated[DivisionCode | None, Query(description="City or province code.")] = None,
    level: Annotated[c.SupervisionLevel | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Any]:
    """A supervisor's list (督办): leads and cases past their limit, by supervising city or province and level."""
    require_operator_of(region, actor)
    data = c.ListSupervised(supervisor=supervisor, level=level, limit=limit)
    result: list[Any] = await _send(request, region, "list_supervised", data, actor, kind="query")
    return result


@router.get("/arrears/cases/{case_id}")
async def get_case(region: Region, case_id: CaseIdPath, request: Request, actor: Caller) -> dict[str, Any]:
    """A case: workers, orders, payments, steps and supervision. A worker sees only a case they are
    among (404 otherwise), with the other workers' ID numbers masked."""
    if actor.kind is ActorKind.CITIZEN:
        data = c.GetCase(case_id=case_id, citizen_id=_citizen_id(request))
    else:
        require_operator_of(region, actor)
        data = c.GetCase(case_id=case_id)
    result: dict[str, Any] = await _send(request, region, "get_case", data, actor, kind="query")
    return result


async def _case_action(
    request: Request,
    region: str,
    name: str,
    model: type[BaseModel],
    case_id: str,
    body: BaseModel,
    actor: Actor,
    channel: Channel,
    key: str | None,
) -> dict[str, Any]:
    require_operator_of(region, actor)
    result: dict[str, Any] = await _send(
        request, region, name, _with_id(model, body, case_id=case_id), actor, channel, key
    )
    return result


@router.post("/arrears/cases/{case_id}/extension")
async def extend_investigation(
    region: Region,
    case_id: CaseIdPath,
    body: c.ExtendInvestigationRequest,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """+30 working days with the department head's approval, once, before the 60 run out."""
    return await _case_action(
        request, region, "extend_investigation", c.ExtendInvestigation, case_id, body, actor, channel, idempotency_key
    )


@router.post("/arrears/cases/{case_id}/payment-orders", status_code=201)
async def order_payment(
    region: Region,
    case_id: CaseIdPath,
    body: c.OrderPaymentRequest,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """责令支付: a party of the case pays every wage unpaid now by the end of the due day."""
    return await _case_action(
        request, region, "order_payment", c.OrderPayment, case_id, body, actor, channel, idempotency_key
    )


@router.post("/arrears/cases/{case_id}/payments")
async def record_wages_paid(
    region: Region,
    case_id: CaseIdPath,
    body: c.RecordWagesPaidRequest,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Wages paid per worker, in part or in full; never above what a worker claimed."""
    return await _case_action(
        request, region, "record_wages_paid", c.RecordWagesPaid, case_id, body, actor, channel, idempotency_key
    )


@router.post("/arrears/cases/{case_id}/general-contractor-payments")
async def record_general_contractor_payment(
    region: Region,
    case_id: CaseIdPath,
    body: c.RecordGeneralContractorPaymentRequest,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """先行清偿: the general contractor pays for a subcontractor that defaulted on a payment order."""
    return await _case_action(
        request,
        region,
        "record_general_contractor_payment",
        c.RecordGeneralContractorPayment,
        case_id,
        body,
        actor,
        channel,
        idempotency_key,
    )


@router.post("/arrears/cases/{case_id}/penalties")
async def impose_penalty(
    region: Region,
    case_id: CaseIdPath,
    body: c.ImposePenaltyRequest,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """An administrative penalty (罚款) on a party of the case."""
    return await _case_action(
        request, region, "impose_penalty", c.ImposePenalty, case_id, body, actor, channel, idempotency_key
    )


@router.post("/arrears/cases/{case_id}/additional-compensation")
async def order_additional_compensation(
    region: Region,
    case_id: CaseIdPath,
    body: c.OrderAdditionalCompensationRequest,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """加付赔偿金: 50%-100% of the wages still unpaid at the due day of an order not obeyed."""
    return await _case_action(
        request,
        region,
        "order_additional_compensation",
        c.OrderAdditionalCompensation,
        case_id,
        body,
        actor,
        channel,
        idempotency_key,
    )


@router.post("/arrears/cases/{case_id}/transfer")
async def transfer_case(
    region: Region,
    case_id: CaseIdPath,
    body: c.TransferCaseRequest,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Transfer to another department or to the police (移送公安): the case ends here, with the reason."""
    return await _case_action(
        request, region, "transfer_case", c.TransferCase, case_id, body, actor, channel, idempotency_key
    )


@router.post("/arrears/cases/{case_id}/withdrawal")
async def withdraw_case(
    region: Region,
    case_id: CaseIdPath,
    body: c.WithdrawCaseRequest,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Withdrawal (撤回): the case ends here, with the reason."""
    return await _case_action(
        request, region, "withdraw_case", c.WithdrawCase, case_id, body, actor, channel, idempotency_key
    )


@router.post("/arrears/cases/{case_id}/closure")
async def close_case(
    region: Region,
    case_id: CaseIdPath,
    body: c.CloseCaseRequest,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """结案 as paid in full; refused (422 unpaid-wages, with the amount) while wages claimed are unpaid."""
    return await _case_action(
        request, region, "close_case", c.CloseCase, case_id, body, actor, channel, idempotency_key
    )


@router.post("/arrears/cases/{case_id}/reviews")
async def record_review(
    region: Region,
    case_id: CaseIdPath,
    body: c.RecordReviewRequest,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """The review's (复查) finding: passed ends the matter; failed reopens the case."""
    return await _case_action(
        request, region, "record_review", c.RecordReview, case_id, body, actor, channel, idempotency_key
    )


@router.post("/arrears/cases/{case_id}/disputes")
async def dispute_case(
    region: Region,
    case_id: CaseIdPath,
    body: c.DisputeCaseRequest,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """A worker says the wages of a closed case were not really paid: the case is reviewed (复查).

    The worker disputes for themselves; an operator names the worker in the body.
    """
    if actor.kind is ActorKind.CITIZEN:
        if body.citizen_id not in (None, _citizen_id(request)):
            raise forbidden("a worker disputes a case for themselves only")
        # The service answers 404 to a worker the case does not name, from the case itself.
        citizen_id = _citizen_id(request)
    else:
        require_operator_of(region, actor)
        if body.citizen_id is None:
            detail = "citizen_id names the worker who disputes the case"
            raise ProblemError(problem("invalid-request", "The request is not valid", 400, detail))
        citizen_id = body.citizen_id
    data = c.DisputeCase(case_id=case_id, citizen_id=citizen_id)
    result: dict[str, Any] = await _send(request, region, "dispute_case", data, actor, channel, idempotency_key)
    return result


@router.get("/me/arrears")
async def my_arrears(region: Region, request: Request, actor: Caller) -> dict[str, Any]:
    """A worker's own complaints and cases: their claim, what is paid, where the case stands."""
    if actor.kind is not ActorKind.CITIZEN:
        raise forbidden("citizens only")
    data = c.MyArrears(citizen_id=_citizen_id(request))
    result: dict[str, Any] = await _send(request, region, "my_arrears", data, actor, kind="query")
    return result


@router.get("/statistics/arrears")
async def arrears_figures(
    region: Region, request: Request, actor: Caller, first: Annotated[date, Query()], last: Annotated[date, Query()]
) -> dict[str, Any]:
    """Leads, cases, workers, amounts claimed and recovered, closure and on-time rates, transfers to
    police: for the region and by district, industry and channel, for any range of days."""
    require_operator_of(region, actor)
    if last < first:
        raise ProblemError(problem("invalid-request", "The request is not valid", 400, "last is before first"))
    data = c.ArrearsFigures(first=first, last=last)
    result: dict[str, Any] = await _send(request, region, "arrears_figures", data, actor, kind="query")
    return result
