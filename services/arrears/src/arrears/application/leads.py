"""Lead use cases: one-point intake (一点受理), routing (流转), and the district's answer.

A lead's id is a keyed hash (pseudonym) of the domain's deduplication key, so the same employer,
workers and wage period reported twice, from any channel or district, lands on the same stream:
two reports racing each other conflict on it and the second is decided again as a repeat.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from arrears.application.aggregates import Keeping, change_case, change_lead
from arrears.domain import case, lead
from arrears.domain.errors import InvalidCodeError
from arrears.domain.events import ComplaintRefused, LeadReportedAgain
from arrears.domain.rules import lead_key
from arrears.domain.values import Channel, Project, RefusalReason, WorkerClaim
from contracts.arrears.commands import AcceptComplaint, ReceiveComplaint, RefuseComplaint, RouteLead
from contracts.envelope import Channel as EnvelopeChannel
from contracts.identifiers import pseudonym
from runtime.eventstore import Transaction
from runtime.recording import CommandContext

# Where a request came in -> where a complaint came in (一点受理 counts every channel).
CHANNELS: dict[EnvelopeChannel, Channel] = {
    EnvelopeChannel.WEB_HALL: Channel.WEB,
    EnvelopeChannel.KIOSK: Channel.WEB,
    EnvelopeChannel.MOBILE_APP: Channel.APP,
    EnvelopeChannel.HOTLINE: Channel.HOTLINE,
    EnvelopeChannel.COUNTER: Channel.COUNTER,
    EnvelopeChannel.BANK_OUTLET: Channel.COUNTER,
    EnvelopeChannel.PARTNER: Channel.PLATFORM,
    EnvelopeChannel.SYSTEM: Channel.PLATFORM,
}


def lead_id_of(command: ReceiveComplaint, salt: bytes) -> str:
    """The lead id: a keyed hash of the deduplication key (which itself is built from citizen ids)."""
    key = lead_key(
        employer_code=command.employer_credit_code,
        citizen_ids=[w.citizen_id for w in command.workers],
        period_from=command.period_from,
        period_to=command.period_to,
    )
    return pseudonym(key, salt=salt)


def case_id_of(lead_id: str) -> str:
    """A lead is accepted once, so its case id follows from it."""
    return str(uuid5(NAMESPACE_URL, f"yiwang:arrears-case:{lead_id}"))


async def receive_complaint(
    tx: Transaction,
    command: ReceiveComplaint,
    ctx: CommandContext,
    *,
    keep: Keeping,
    districts: Collection[str],
    salt: bytes,
) -> dict[str, Any]:
    """Record a complaint at an intake point of this region; the same one again is counted on its lead."""
    if not command.received_by.startswith(ctx.region):
        raise InvalidCodeError("intake point", command.received_by, f"is not in region {ctx.region}")
    lead_id = lead_id_of(command, salt)
    project = command.project
    after, events = await change_lead(
        tx,
        lead_id,
        lambda state: lead.decide_receive(
            state,
            lead_id=lead_id,
            channel=CHANNELS[ctx.channel],
            received_by=command.received_by,
            employer_code=command.employer_credit_code,
            employer_name=command.employer_name,
            division_code=command.division_code,
            industry_code=command.industry_code,
            workers=[WorkerClaim(citizen_id=w.citizen_id, claimed_fen=w.claimed_fen) for w in command.workers],
            period_from=command.period_from,
            period_to=command.period_to,
            known_districts=districts,
            now=ctx.now,
            project=None
            if project is None
            else Project(
                name=project.name,
                general_contractor_code=project.general_contractor_code,
                subcontractor_code=project.subcontractor_code or "",
            ),
            summary=command.summary,
        ),
        ctx,
        keep,
        presumed_new=True,  # the same complaint again is the exception
    )
    return {**_lead_reply(after), "reported_again": isinstance(events[0], LeadReportedAgain)}


async def route_lead(
    tx: Transaction, command: RouteLead, ctx: CommandContext, *, keep: Keeping, districts: Collection[str]
) -> dict[str, Any]:
    """Pass the lead on to another district of the region; its 5 working days start again there."""
    after, _ = await change_lead(
        tx,
        command.lead_id,
        lambda state: lead.decide_route(
            state, to_district=command.to_district, reason=command.reason, known_districts=districts, now=ctx.now
        ),
        ctx,
        keep,
    )
    return {**_lead_reply(after), "hops": len(after.hops)}


async def accept_complaint(
    tx: Transaction, command: AcceptComplaint, ctx: CommandContext, *, keep: Keeping
) -> dict[str, Any]:
    """The district accepts the complaint and files its case the same day (60 working days start)."""
    case_id = case_id_of(command.lead_id)
    accepted, _ = await change_lead(
        tx, command.lead_id, lambda state: lead.decide_accept(state, case_id=case_id, now=ctx.now), ctx, keep
    )
    filed, _ = await change_case(
        tx, case_id, lambda state: case.decide_file(state, lead=accepted, now=ctx.now), ctx, keep, presumed_new=True
    )
    return {**_lead_reply(accepted), "case_id": case_id, "case_status": filed.status.value}


async def refuse_complaint(
    tx: Transaction, command: RefuseComplaint, ctx: CommandContext, *, keep: Keeping
) -> dict[str, Any]:
    """The district refuses the complaint in writing; the explanation is what the complainant is told."""
    after, events = await change_lead(
        tx,
        command.lead_id,
        lambda state: lead.decide_refuse(
            state, reason=RefusalReason(command.reason.value), note=command.note, now=ctx.now
        ),
        ctx,
        keep,
    )
    explanation = next(e.explanation for e in events if isinstance(e, ComplaintRefused))
    return {**_lead_reply(after), "reason": command.reason.value, "explanation": explanation}


def _lead_reply(state: lead.Lead) -> dict[str, Any]:
    return {
        "lead_id": state.lead_id,
        "status": state.status.value,
        "district": state.district,
        "reports": state.reports,
    }
