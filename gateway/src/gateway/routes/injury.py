"""Work-injury routes (工伤联网结算): signed hospital endpoints, operator endpoints, the worker's own view.

Hospitals sign every request (gateway/hospital_auth.py) and act only under their own code in the
path: another hospital's settlements are 403. Operators (bearer token) act in their own region;
a worker (citizen token) reads only their own settlements. Citizen ID numbers travel in bodies only.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import Path, Query, Request
from pydantic import BaseModel, ValidationError

from contracts.codec import invalid
from contracts.envelope import Actor, ActorKind, Channel
from contracts.injury import commands as c
from gateway.auth import Caller, ChannelHeader, forbidden, require_operator_of
from gateway.bus import ServiceBus
from gateway.hospital_auth import Signed, SignedHospital, replay_guard, replayed
from gateway.problems import ProblemError
from gateway.routes.common import IdempotencyKey, Region, send
from gateway.routing import GatedRouter

router = GatedRouter(prefix="/v1/regions/{region}/injury", tags=["injury"], lifespan=replay_guard)

SERVICE = "injury"
M = TypeVar("M", bound=BaseModel)

HospitalPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{2,32}$", description="The hospital's code.")]
SettlementNoPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,64}$", description="Its settlement number.")]
DeterminationPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$", description="The determination.")]
ItemCodePath = Annotated[str, Path(min_length=1, max_length=32)]


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


async def _ask(request: Request, region: str, name: str, data: BaseModel, actor: Actor) -> Any:
    return await _send(request, region, name, data, actor, Channel.SYSTEM, kind="query")


async def _send_signed(request: Request, region: str, name: str, data: BaseModel, signed: Signed) -> Any:
    """A hospital's signed write: the command's id is its message id's, so a replay is refused (401)."""
    bus: ServiceBus = request.app.state.bus
    return await bus.send(
        region=region,
        service=SERVICE,
        name=name,
        data=data,
        actor=signed.actor,
        channel=Channel.PARTNER,
        message_id=signed.command_id,
        used_before=replayed,
    )


async def _signed_body(request: Request, model: type[M]) -> M:
    """The body of a signed request, parsed only after its signature held."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as error:
        raise ProblemError(invalid(error, prefix="body.")) from error


def _own(hospital: Signed, hospital_id: str) -> None:
    if hospital.actor.id != hospital_id:
        raise forbidden("a hospital posts and reads its own settlements only")


# Hospitals (signed)


@router.post("/hospitals/{hospital_id}/settlements")
async def post_settlement(
    region: Region, hospital_id: HospitalPath, request: Request, hospital: SignedHospital
) -> dict[str, Any]:
    """Settle an encounter (body: SettlementPostingV1): each line priced against the catalogue version
    valid on the service date; the fund pays the in-catalogue amount, the worker the rest.

    Without a recognised determination the encounter is held as self-pay and re-settled through the
    network once the injury is recognised. The same settlement number posted again (a retry, however
    late) returns the first result and pays nothing twice; other content under it is `409`. Lines
    that cannot be settled are `422`, each named with its line number and the rule it breaks.
    """
    _own(hospital, hospital_id)
    body = await _signed_body(request, c.SettlementPostingV1)
    data = c.PostSettlement(**body.model_dump(), hospital_id=hospital_id)
    result: dict[str, Any] = await _send_signed(request, region, "post_settlement", data, hospital)
    return result


@router.get("/hospitals/{hospital_id}/settlements/{settlement_no}")
async def hospital_settlement(
    region: Region,
    hospital_id: HospitalPath,
    settlement_no: SettlementNoPath,
    request: Request,
    hospital: SignedHospital,
) -> dict[str, Any]:
    """One of the hospital's own settlements as it stands now (held, settled, re-settled or reversed)."""
    _own(hospital, hospital_id)
    data = c.GetSettlement(hospital_id=hospital_id, hospital_settlement_no=settlement_no)
    result: dict[str, Any] = await _ask(request, region, "get_settlement", data, hospital.actor)
    return result


@router.post("/hospitals/{hospital_id}/settlements/{settlement_no}/reversal")
async def hospital_reversal(
    region: Region,
    hospital_id: HospitalPath,
    settlement_no: SettlementNoPath,
    request: Request,
    hospital: SignedHospital,
) -> dict[str, Any]:
    """Reverse one of the hospital's settlements (body: ReverseSettlementRequest); a corrected encounter
    is posted again under a new number."""
    _own(hospital, hospital_id)
    body = await _signed_body(request, c.ReverseSettlementRequest)
    data = c.ReverseSettlement(hospital_id=hospital_id, hospital_settlement_no=settlement_no, reason=body.reason)
    result: dict[str, Any] = await _send_signed(request, region, "reverse_settlement", data, hospital)
    return result


@router.post("/hospitals/{hospital_id}/reconciliations")
async def declare_day_totals(
    region: Region, hospital_id: HospitalPath, request: Request, hospital: SignedHospital
) -> dict[str, Any]:
    """Reconcile a day of service (对账, body: DayTotalsV1): the hospital's count, total and fund share
    against the fund's; every figure that differs is flagged with both values."""
    _own(hospital, hospital_id)
    body = await _signed_body(request, c.DayTotalsV1)
    data = c.DeclareDayTotals(**body.model_dump(), hospital_id=hospital_id)
    result: dict[str, Any] = await _send_signed(request, region, "declare_day_totals", data, hospital)
    return result


# Operators: agreements, determinations, catalogue, settlements, reconciliation


@router.post("/agreements", status_code=201)
async def sign_agreement(
    region: Region,
    body: c.SignAgreement,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Sign an agreement term with an institution (协议机构); settlement only on days it is active."""
    require_operator_of(region, actor)
    result: dict[str, Any] = await _send(request, region, "sign_agreement", body, actor, channel, idempotency_key)
    return result


@router.get("/agreements")
async def list_agreements(
    region: Region, request: Request, actor: Caller, on: Annotated[date | None, Query()] = None
) -> list[Any]:
    """The region's registry: every institution and its agreement status on a day (today by default)."""
    require_operator_of(region, actor)
    result: list[Any] = await _ask(request, region, "list_agreements", c.ListAgreements(on=on), actor)
    return result


@router.post("/agreements/{hospital_id}/suspension")
async def suspend_agreement(
    region: Region,
    hospital_id: HospitalPath,
    body: c.SuspendAgreementRequest,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Suspend settlement at an institution from a day (a sanction for a breach)."""
    require_operator_of(region, actor)
    data = c.SuspendAgreement(**body.model_dump(), hospital_id=hospital_id)
    result: dict[str, Any] = await _send(request, region, "suspend_agreement", data, actor, channel, idempotency_key)
    return result


@router.post("/agreements/{hospital_id}/reinstatement")
async def reinstate_agreement(
    region: Region,
    hospital_id: HospitalPath,
    body: c.ReinstateAgreementRequest,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Lift an institution's suspension from a day on."""
    require_operator_of(region, actor)
    data = c.ReinstateAgreement(**body.model_dump(), hospital_id=hospital_id)
    result: dict[str, Any] = await _send(request, region, "reinstate_agreement", data, actor, channel, idempotency_key)
    return result


@router.post("/agreements/{hospital_id}/termination")
async def terminate_agreement(
    region: Region,
    hospital_id: HospitalPath,
    body: c.TerminateAgreementRequest,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """End an institution's current term: no settlement for service on or after the day."""
    require_operator_of(region, actor)
    data = c.TerminateAgreement(**body.model_dump(), hospital_id=hospital_id)
    result: dict[str, Any] = await _send(request, region, "terminate_agreement", data, actor, channel, idempotency_key)
    return result


@router.post("/determinations", status_code=201)
async def apply_for_determination(
    region: Region,
    body: c.ApplyForDetermination,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Record a determination application (工伤认定申请): acceptance is due within 15 days."""
    require_operator_of(region, actor)
    name = "apply_for_determination"
    result: dict[str, Any] = await _send(request, region, name, body, actor, channel, idempotency_key)
    return result


@router.get("/determinations/{determination_id}")
async def get_determination(
    region: Region, determination_id: DeterminationPath, request: Request, actor: Caller
) -> dict[str, Any]:
    """A determination's stage, its timers (due, fired, cancelled) and any breached limit."""
    require_operator_of(region, actor)
    data = c.GetDetermination(determination_id=determination_id)
    result: dict[str, Any] = await _ask(request, region, "get_determination", data, actor)
    return result


@router.post("/determinations/{determination_id}/acceptance")
async def accept_determination(
    region: Region,
    determination_id: DeterminationPath,
    body: c.AcceptDeterminationRequest,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Accept an application: the decision is due within 60 days, 15 when the facts are clear."""
    require_operator_of(region, actor)
    data = c.AcceptDetermination(**body.model_dump(), determination_id=determination_id)
    name = "accept_determination"
    result: dict[str, Any] = await _send(request, region, name, data, actor, channel, idempotency_key)
    return result


@router.post("/determinations/{determination_id}/decision")
async def decide_determination(
    region: Region,
    determination_id: DeterminationPath,
    body: c.DecideDeterminationRequest,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Recognise the injury (the worker's held settlements are re-settled through the network) or deny it."""
    require_operator_of(region, actor)
    data = c.DecideDetermination(**body.model_dump(), determination_id=determination_id)
    name = "decide_determination"
    result: dict[str, Any] = await _send(request, region, name, data, actor, channel, idempotency_key)
    return result


@router.post("/catalogue/versions")
async def publish_catalogue_versions(
    region: Region,
    body: c.PublishCatalogueVersions,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Publish new catalogue versions (a price or class change is a new version; history is never edited)."""
    require_operator_of(region, actor)
    name = "publish_catalogue_versions"
    result: dict[str, Any] = await _send(request, region, name, body, actor, channel, idempotency_key)
    return result


@router.get("/catalogue/items/{code}")
async def catalogue_item(region: Region, code: ItemCodePath, request: Request, actor: Caller) -> dict[str, Any]:
    """Every version of one catalogue item with its validity."""
    require_operator_of(region, actor)
    result: dict[str, Any] = await _ask(request, region, "get_catalogue_item", c.GetCatalogueItem(code=code), actor)
    return result


@router.get("/settlements/{hospital_id}/{settlement_no}")
async def get_settlement(
    region: Region, hospital_id: HospitalPath, settlement_no: SettlementNoPath, request: Request, actor: Caller
) -> dict[str, Any]:
    """Any settlement of the region, for an operator."""
    require_operator_of(region, actor)
    data = c.GetSettlement(hospital_id=hospital_id, hospital_settlement_no=settlement_no)
    result: dict[str, Any] = await _ask(request, region, "get_settlement", data, actor)
    return result


@router.post("/settlements/{hospital_id}/{settlement_no}/resettlement")
async def resettle_settlement(
    region: Region,
    hospital_id: HospitalPath,
    settlement_no: SettlementNoPath,
    body: c.ResettleSettlementRequest,
    request: Request,
    actor: Caller,
    channel: ChannelHeader = Channel.WEB_HALL,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Re-settle a held settlement under a recognised determination the worker shows (补结算)."""
    require_operator_of(region, actor)
    data = c.ResettleSettlement(
        hospital_id=hospital_id, hospital_settlement_no=settlement_no, determination_id=body.determination_id
    )
    result: dict[str, Any] = await _send(request, region, "resettle_settlement", data, actor, channel, idempotency_key)
    return result


@router.get("/reconciliations")
async def list_reconciliations(
    region: Region,
    request: Request,
    actor: Caller,
    day: Annotated[date | None, Query()] = None,
    hospital_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9]{2,32}$")] = None,
    mismatched_only: Annotated[bool, Query()] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Any]:
    """Hospitals' declared days against the fund's settlements; `mismatched_only` lists the flagged ones."""
    require_operator_of(region, actor)
    data = c.ListReconciliations(day=day, hospital_id=hospital_id, mismatched_only=mismatched_only, limit=limit)
    result: list[Any] = await _ask(request, region, "list_reconciliations", data, actor)
    return result


@router.get("/figures")
async def injury_figures(
    region: Region, request: Request, actor: Caller, first: Annotated[date, Query()], last: Annotated[date, Query()]
) -> dict[str, Any]:
    """Settlements and amounts by hospital and month, fund vs self-pay share, re-settlements after a late
    determination, rejected lines by reason (service dates first..last)."""
    require_operator_of(region, actor)
    result: dict[str, Any] = await _ask(
        request, region, "injury_figures", c.InjuryFigures(first=first, last=last), actor
    )
    return result


# Workers


@router.get("/my-settlements")
async def my_settlements(
    region: Region, request: Request, actor: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[Any]:
    """The worker's own settlements in the region: what the fund paid and what they paid."""
    if actor.kind is not ActorKind.CITIZEN:
        raise forbidden("this is a worker's own view; operators read settlements by hospital and number")
    data = c.ListPersonSettlements(person_ref=actor.id, limit=limit)
    result: list[Any] = await _ask(request, region, "list_person_settlements", data, actor)
    return result
