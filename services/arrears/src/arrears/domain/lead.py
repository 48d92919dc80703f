"""A lead (线索): one-point intake (一点受理), routing (流转) and the district's answer; decisions return events.

A complaint arrives through any channel at any district of the region. The same employer, workers
and wage period is one lead (`rules.lead_key` is its id): a second report is counted on it. The
lead goes at once to the district responsible for the employer's or project's division code when
the region knows it, else it waits at the intake point to be routed by hand; a district can pass
it on with a reason, every hop recorded. The district it sits at accepts it (a case is filed) or
refuses it in writing within 5 working days of its arrival (劳动保障监察条例; 若干规定).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime

from arrears.domain.deadlines import supervise
from arrears.domain.errors import (
    InvalidCodeError,
    LeadNotFoundError,
    LimitationExpiredError,
    MissingValueError,
    RefusalNotApplicableError,
    RoutingError,
    UnknownDistrictError,
    WrongStatusError,
)
from arrears.domain.events import (
    ComplaintAccepted,
    ComplaintRefused,
    Event,
    LeadReceived,
    LeadReportedAgain,
    LeadRouted,
)
from arrears.domain.lead_state import Hop, Lead, evolve, fold, lead_stream, pending_timer
from arrears.domain.rules import check_complaint, limitation_expired
from arrears.domain.values import (
    REFUSAL_EXPLANATIONS,
    Channel,
    LeadStatus,
    Project,
    RefusalReason,
    Stage,
    WorkerClaim,
    beijing_date,
    is_district,
    is_region,
    normal_id,
)

__all__ = [
    "Hop",
    "Lead",
    "decide_accept",
    "decide_deadline",
    "decide_receive",
    "decide_refuse",
    "decide_route",
    "evolve",
    "fold",
    "lead_stream",
    "past_limitation",
    "pending_timer",
]


def decide_receive(
    state: Lead,
    *,
    lead_id: str,
    channel: Channel,
    received_by: str,
    employer_code: str,
    employer_name: str,
    division_code: str,
    industry_code: str,
    workers: Sequence[WorkerClaim],
    period_from: date,
    period_to: date,
    known_districts: Collection[str],
    now: datetime,
    project: Project | None = None,
    summary: str = "",
) -> list[Event]:
    """Record a complaint; one already recorded under this lead id is counted as reported again.

    Refused as unreadable: an intake point or division code that is not a 6-digit region code, no
    employer code or industry code, no workers, a worker listed twice or claiming nothing, a wage
    period backwards or not yet ended (Beijing date of `now`), a project without its general
    contractor. A division code naming a district the region knows routes the lead there at once.
    """
    if state.lead_id:
        return [LeadReportedAgain(lead_id=state.lead_id, channel=channel, received_by=received_by, at=now)]
    for what, value in (
        ("lead_id", lead_id),
        ("the employer's unified social credit code", employer_code),
        ("the industry code (GB/T 4754)", industry_code),
    ):
        if not value.strip():
            raise MissingValueError(what)
    for what, code in (("intake point", received_by), ("division code", division_code)):
        if not is_region(code):
            raise InvalidCodeError(what, code, "is not a 6-digit GB/T 2260 region code")
    if project is not None and not project.general_contractor_code.strip():
        raise MissingValueError("the construction project's general contractor code")
    check_complaint(workers=workers, period_from=period_from, period_to=period_to, today=beijing_date(now))
    received = LeadReceived(
        lead_id=lead_id,
        channel=channel,
        received_by=received_by,
        employer_code=employer_code.strip().upper(),
        employer_name=employer_name.strip(),
        division_code=division_code,
        industry_code=industry_code.strip(),
        project=None if project is None else _project(project),
        workers=tuple(WorkerClaim(citizen_id=normal_id(w.citizen_id), claimed_fen=w.claimed_fen) for w in workers),
        period_from=period_from,
        period_to=period_to,
        summary=summary.strip(),
        at=now,
    )
    if not (is_district(division_code) and division_code in known_districts):
        return [received]
    routed = LeadRouted(
        lead_id=lead_id,
        from_district=received_by,
        to_district=division_code,
        reason=f"the employer or project is in district {division_code}, which is responsible",
        at=now,
    )
    return [received, routed]


def decide_route(
    state: Lead, *, to_district: str, reason: str, known_districts: Collection[str], now: datetime
) -> list[Event]:
    """Pass the lead on to another district of the region, with the reason; the acceptance clock
    restarts there. Only a lead not yet answered can move, and only to a district the region knows."""
    _check_waiting(state, "route it")
    if not reason.strip():
        raise MissingValueError("the reason for routing the lead")
    if not (is_district(to_district) and to_district in known_districts):
        raise UnknownDistrictError(to_district)
    if state.status is LeadStatus.ROUTED and to_district == state.district:
        raise RoutingError(f"lead {state.lead_id} is already at district {to_district}: route it to another one")
    return [
        LeadRouted(lead_id=state.lead_id, from_district=state.district, to_district=to_district, reason=reason, at=now)
    ]


def decide_accept(state: Lead, *, case_id: str, now: datetime) -> list[Event]:
    """The district the lead was routed to accepts it; the case `case_id` is filed from it
    (`case.decide_file`). A complaint past the two-year limit cannot be accepted: it is refused."""
    _check_routed(state, "accept it")
    if not case_id.strip():
        raise MissingValueError("case_id")
    if past_limitation(state) and state.period_to is not None and state.received_at is not None:
        raise LimitationExpiredError(state.period_to, beijing_date(state.received_at))
    return [ComplaintAccepted(lead_id=state.lead_id, case_id=case_id, district=state.district, at=now)]


def decide_refuse(state: Lead, *, reason: RefusalReason, now: datetime, note: str = "") -> list[Event]:
    """The district refuses the complaint in writing: the reason's standard explanation, then `note`.

    The two-year limit is a fact the lead's dates show: it can only be given when they show it.
    """
    _check_routed(state, "refuse it")
    if reason is RefusalReason.PAST_TWO_YEAR_LIMIT and not past_limitation(state):
        raise RefusalNotApplicableError(
            reason, f"the wage period ends on {state.period_to}, within two years of the complaint"
        )
    explanation = REFUSAL_EXPLANATIONS[reason] + (f"; {note.strip()}" if note.strip() else "")
    return [
        ComplaintRefused(
            lead_id=state.lead_id, district=state.district, reason_code=reason, explanation=explanation, at=now
        )
    ]


def past_limitation(state: Lead) -> bool:
    """Whether the wage period ended more than two years before the complaint: the refusal to offer."""
    if state.period_to is None or state.received_at is None:
        return False
    return limitation_expired(last_day=state.period_to, complained_on=beijing_date(state.received_at))


def decide_deadline(state: Lead, *, stage: Stage, due_at: datetime, now: datetime) -> list[Event]:
    """The acceptance timer came due: supervision opens at the city, then escalates to the province
    (see `deadlines.supervise`); nothing once the lead is answered or routed on."""
    return list(
        supervise(
            subject_id=state.lead_id,
            district=state.district,
            timer=pending_timer(state),
            stage=stage,
            due_at=due_at,
            now=now,
        )
    )


def _check_waiting(state: Lead, action: str) -> None:
    if not state.lead_id:
        raise LeadNotFoundError()
    if not state.waiting:
        raise WrongStatusError(
            f"lead {state.lead_id}", state.status, action, "the district has already answered the complaint"
        )


def _check_routed(state: Lead, action: str) -> None:
    _check_waiting(state, action)
    if state.status is not LeadStatus.ROUTED:
        raise WrongStatusError(
            f"lead {state.lead_id}",
            state.status,
            action,
            "only the district the lead was routed to answers it: route it to the responsible district first",
        )


def _project(project: Project) -> Project:
    return Project(
        name=project.name.strip(),
        general_contractor_code=project.general_contractor_code.strip().upper(),
        subcontractor_code=project.subcontractor_code.strip().upper(),
    )
