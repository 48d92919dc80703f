"""State of a lead (stream arrears-lead-<lead_id>), folded from events.

Folding never refuses an event; a case event leaves the lead as it is. The lead sits at one
district at a time: the intake point until it is routed, then each district it is routed to; the
acceptance clock (5 working days) starts on arrival at each district.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import assert_never

from arrears.domain.deadlines import ACCEPTANCE_WORKING_DAYS, Supervision, Timer, next_timer, supervised
from arrears.domain.events import (
    CaseOnlyEvent,
    ComplaintAccepted,
    ComplaintRefused,
    Event,
    LeadReceived,
    LeadReportedAgain,
    LeadRouted,
    SupervisionEscalated,
    SupervisionOpened,
)
from arrears.domain.values import Channel, LeadStatus, Project, RefusalReason, Stage, WorkerClaim, normal_id


@dataclass(frozen=True, slots=True, kw_only=True)
class Hop:
    """One routing step of the lead, in order."""

    from_district: str
    to_district: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Lead:
    """`district` is where the lead is now and `arrived_at` when it got there; `reports` counts the
    first report and every repeat."""

    lead_id: str = ""
    status: LeadStatus = LeadStatus.NONE
    channel: Channel | None = None
    received_by: str = ""
    received_at: datetime | None = None
    employer_code: str = ""
    employer_name: str = ""
    division_code: str = ""
    industry_code: str = ""
    project: Project | None = None
    workers: tuple[WorkerClaim, ...] = ()
    period_from: date | None = None
    period_to: date | None = None
    summary: str = ""
    reports: int = 0
    district: str = ""
    arrived_at: datetime | None = None
    hops: tuple[Hop, ...] = ()
    case_id: str = ""
    refusal: RefusalReason | None = None
    supervision: Supervision | None = None

    @property
    def claimed_fen(self) -> int:
        return sum(w.claimed_fen for w in self.workers)

    @property
    def waiting(self) -> bool:
        """Waiting for a district's answer: received or routed, neither accepted nor refused."""
        return self.status in (LeadStatus.RECEIVED, LeadStatus.ROUTED)

    def claim_of(self, citizen_id: str) -> WorkerClaim | None:
        """The worker's own claim in this lead ("my complaint"), or None when not among its workers."""
        wanted = normal_id(citizen_id)
        return next((w for w in self.workers if w.citizen_id == wanted), None)


def lead_stream(lead_id: str) -> str:
    return f"arrears-lead-{lead_id}"


def evolve(state: Lead, event: Event) -> Lead:
    match event:
        case LeadReceived():
            return replace(
                state,
                lead_id=event.lead_id,
                status=LeadStatus.RECEIVED,
                channel=event.channel,
                received_by=event.received_by,
                received_at=event.at,
                employer_code=event.employer_code,
                employer_name=event.employer_name,
                division_code=event.division_code,
                industry_code=event.industry_code,
                project=event.project,
                workers=event.workers,
                period_from=event.period_from,
                period_to=event.period_to,
                summary=event.summary,
                reports=1,
                district=event.received_by,
                arrived_at=event.at,
            )
        case LeadReportedAgain():
            return replace(state, reports=state.reports + 1)
        case LeadRouted():
            hop = Hop(
                from_district=event.from_district, to_district=event.to_district, reason=event.reason, at=event.at
            )
            return replace(
                state,
                status=LeadStatus.ROUTED,
                district=event.to_district,
                arrived_at=event.at,
                hops=(*state.hops, hop),
                supervision=None,
            )
        case ComplaintAccepted():
            return replace(state, status=LeadStatus.ACCEPTED, case_id=event.case_id)
        case ComplaintRefused():
            return replace(state, status=LeadStatus.REFUSED, refusal=event.reason_code)
        case SupervisionOpened() | SupervisionEscalated():
            return replace(state, supervision=supervised(state.supervision, event))
        case _ if isinstance(event, CaseOnlyEvent):
            return state  # a case's event: not this aggregate's
        case _:
            assert_never(event)


def fold(events: Iterable[Event]) -> Lead:
    state = Lead()
    for event in events:
        state = evolve(state, event)
    return state


def pending_timer(state: Lead) -> Timer | None:
    """The acceptance timer while the lead waits at a district; None once accepted or refused."""
    if not state.waiting or state.arrived_at is None:
        return None
    return next_timer(
        Stage.ACCEPTANCE,
        started_at=state.arrived_at,
        working_days=ACCEPTANCE_WORKING_DAYS,
        supervision=state.supervision,
    )
