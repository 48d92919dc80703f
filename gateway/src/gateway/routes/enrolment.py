"""Enrolment routes: employers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from contracts.enrolment.commands import GetEmployer, RegisterEmployer
from contracts.envelope import Channel
from contracts.replies import problem
from gateway.auth import Caller, ChannelDep, require_operator_of
from gateway.problems import ProblemError
from gateway.routes.common import IdempotencyKey, Region, command_id

router = APIRouter(prefix="/v1/regions/{region}", tags=["enrolment"])


@router.post("/employers", status_code=201)
async def register_employer(
    region: Region,
    body: RegisterEmployer,
    request: Request,
    actor: Caller,
    channel: ChannelDep,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Register an employer at a counter (单位参保登记). An operator of the region registers it.

    Refused with 409 if the credit code is already registered.
    """
    require_operator_of(region, actor)
    result: dict[str, Any] = await request.app.state.bus.send(
        region=region,
        service="enrolment",
        name="register_employer",
        data=body,
        actor=actor,
        channel=channel,
        message_id=command_id(actor, idempotency_key),
    )
    return result


@router.get("/employers/{credit_code}")
async def get_employer(region: Region, credit_code: str, request: Request, actor: Caller) -> dict[str, Any]:
    """An employer as registered: route (zero-touch or manual), channel and time."""
    require_operator_of(region, actor)
    if len(credit_code) != 18:
        raise ProblemError(problem("employer-not-found", "Employer not found", 404, credit_code))
    result: dict[str, Any] = await request.app.state.bus.send(
        region=region,
        service="enrolment",
        name="get_employer",
        data=GetEmployer(credit_code=credit_code),
        actor=actor,
        channel=Channel.SYSTEM,
        kind="query",
    )
    return result
