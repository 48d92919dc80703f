"""Transfer routes (转移接续): apply online or at a counter, follow the path across both regions."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Path, Query, Request

from contracts.envelope import ActorKind, Channel
from contracts.replies import problem
from contracts.transfer import commands as c
from gateway.auth import Caller, ChannelHeader, forbidden, require_operator_of
from gateway.problems import ProblemError
from gateway.routes.common import IdempotencyKey, Region, send
from gateway.routing import GatedRouter
from gateway.transfer_path import stages

router = GatedRouter(prefix="/v1/regions/{region}", tags=["transfer"])
CaseId = Annotated[str, Path(min_length=8, max_length=64)]


async def _ask(request: Request, region: str, name: str, data: Any, actor: Any) -> Any:
    return await request.app.state.bus.send(
        region=region, service="transfer", name=name, data=data, actor=actor, channel=Channel.SYSTEM, kind="query"
    )


@router.post("/transfers", status_code=201)
async def apply_for_transfer(
    region: Region,
    body: c.ApplyForTransfer,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Apply to bring a pension here from another province (the worker online, or a clerk at a counter).

    The answer says at once whether the contact letter left, or why the transfer was refused
    (pensioner, not enrolled and contributing here, overlapping periods) or a temporary account opened.
    """
    if actor.kind is ActorKind.CITIZEN:
        if getattr(request.state, "citizen_id", None) != body.citizen_id:
            raise forbidden("citizens apply for themselves only")
    else:
        require_operator_of(region, actor)
    result: dict[str, Any] = await send(
        request, "transfer", region, "apply_for_transfer", body, actor, channel, idempotency_key
    )
    return result


@router.get("/transfers/{case_id}")
async def get_transfer(region: Region, case_id: CaseId, request: Request, actor: Caller) -> dict[str, Any]:
    """A transfer's whole path: every step in both regions with its time, the three-day target, the trace id."""
    if actor.kind is not ActorKind.CITIZEN:
        require_operator_of(region, actor)
    case: dict[str, Any] = await _ask(request, region, "get_transfer", c.GetTransfer(case_id=case_id), actor)
    if actor.kind is ActorKind.CITIZEN and case["person_ref"] != actor.id:
        raise ProblemError(problem("transfer-not-found", "Not found", 404, "no such transfer of yours"))
    other = case["from_region"] if case["direction"] == "in" else case["to_region"]
    try:
        far: dict[str, Any] = await _ask(request, other, "get_transfer", c.GetTransfer(case_id=case_id), actor)
        far_steps = far["steps"]
    except ProblemError:
        far_steps = []
    steps = sorted([*case["steps"], *far_steps], key=lambda s: (s["at"], s["step"]))
    return {**case, "steps": steps, "stages": stages(case, steps)}


@router.get("/transfers")
async def list_transfers(
    region: Region,
    request: Request,
    actor: Caller,
    at_risk_only: Annotated[bool, Query()] = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Any]:
    """Open transfers of the region; by default only those at risk of (2+ days) or past three days."""
    require_operator_of(region, actor)
    result: list[Any] = await _ask(
        request, region, "list_transfers", c.ListTransfers(at_risk_only=at_risk_only, limit=limit), actor
    )
    return result


@router.get("/statistics/transfers")
async def transfer_figures(
    region: Region, request: Request, actor: Caller, first: Annotated[date, Query()], last: Annotated[date, Query()]
) -> dict[str, Any]:
    """Transfers in and out, completion times, share within three days, money moved, refusals, temporary accounts."""
    require_operator_of(region, actor)
    result: dict[str, Any] = await _ask(
        request, region, "transfer_figures", c.TransferFigures(first=first, last=last), actor
    )
    return result
