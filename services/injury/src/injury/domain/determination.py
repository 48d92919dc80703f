"""A work-injury determination (工伤认定, stream determination-<determination_id>).

The employer applies within 30 days of the accident (the worker, relatives or the trade union
within 1 year; a late employer bears the costs meanwhile, so a late application is not refused).
The department accepts within 15 days of the application and decides within 60 days of acceptance,
15 when facts and rights are clear (工伤认定办法 arts. 8 and 18). Limits count calendar days ("日");
the application schedules a durable timer per stage from `stage_started_at` and `stage_limit_days`,
and `decide_deadline` records a stage still open at its limit. Suspending the decision clock while
another authority concludes is not modelled yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import assert_never

from injury.domain.errors import (
    DeterminationNotFoundError,
    DeterminationStageError,
    InjuryDateInFutureError,
    MissingValueError,
)
from injury.domain.events import (
    AgreementEvent,
    CatalogueEvent,
    DeterminationAccepted,
    DeterminationApplied,
    DeterminationDeadlineBreached,
    DeterminationDenied,
    DeterminationRecognised,
    Event,
    SettlementEvent,
)
from injury.domain.values import (
    ACCEPTANCE_DAYS,
    CLEAR_DECISION_DAYS,
    DECISION_DAYS,
    Applicant,
    DeterminationStage,
    DeterminationStatus,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Determination:
    determination_id: str = ""
    citizen_id: str = ""
    employer_id: str = ""
    region: str = ""
    injury_date: date | None = None
    applicant: Applicant = Applicant.EMPLOYER
    status: DeterminationStatus = DeterminationStatus.NONE
    applied_at: datetime | None = None
    accepted_at: datetime | None = None
    facts_clear: bool = False
    decided_at: datetime | None = None
    denial_reason: str = ""
    breached: frozenset[DeterminationStage] = frozenset()

    @property
    def recognised(self) -> bool:
        return self.status is DeterminationStatus.RECOGNISED


def determination_stream(determination_id: str) -> str:
    return f"determination-{determination_id}"


def evolve(state: Determination, event: Event) -> Determination:
    match event:
        case DeterminationApplied():
            return replace(
                state,
                determination_id=event.determination_id,
                citizen_id=event.citizen_id,
                employer_id=event.employer_id,
                region=event.region,
                injury_date=event.injury_date,
                applicant=event.applicant,
                status=DeterminationStatus.APPLIED,
                applied_at=event.at,
            )
        case DeterminationAccepted():
            return replace(
                state, status=DeterminationStatus.ACCEPTED, accepted_at=event.at, facts_clear=event.facts_clear
            )
        case DeterminationRecognised():
            return replace(state, status=DeterminationStatus.RECOGNISED, decided_at=event.at)
        case DeterminationDenied():
            return replace(state, status=DeterminationStatus.DENIED, decided_at=event.at, denial_reason=event.reason)
        case DeterminationDeadlineBreached():
            return replace(state, breached=state.breached | {event.stage})
        case _ if isinstance(event, AgreementEvent | CatalogueEvent | SettlementEvent):
            return state  # another aggregate's event
        case _:
            assert_never(event)


def fold(events: Iterable[Event]) -> Determination:
    state = Determination()
    for event in events:
        state = evolve(state, event)
    return state


def open_stage(state: Determination) -> DeterminationStage | None:
    """The stage the department is in, or None before an application and after the decision."""
    match state.status:
        case DeterminationStatus.APPLIED:
            return DeterminationStage.ACCEPTANCE
        case DeterminationStatus.ACCEPTED:
            return DeterminationStage.DECISION
        case DeterminationStatus.NONE | DeterminationStatus.RECOGNISED | DeterminationStatus.DENIED:
            return None
        case _:
            assert_never(state.status)


def stage_started_at(state: Determination, stage: DeterminationStage) -> datetime | None:
    """When a stage's clock started: the application, or the acceptance; None before it began."""
    match stage:
        case DeterminationStage.ACCEPTANCE:
            return state.applied_at
        case DeterminationStage.DECISION:
            return state.accepted_at
        case _:
            assert_never(stage)


def stage_limit_days(state: Determination, stage: DeterminationStage) -> int:
    """The stage's limit in calendar days: 15 to accept; 60 to decide, 15 when the facts are clear."""
    match stage:
        case DeterminationStage.ACCEPTANCE:
            return ACCEPTANCE_DAYS
        case DeterminationStage.DECISION:
            return CLEAR_DECISION_DAYS if state.facts_clear else DECISION_DAYS
        case _:
            assert_never(stage)


def decide_apply(
    state: Determination,
    *,
    determination_id: str,
    citizen_id: str,
    employer_id: str,
    region: str,
    injury_date: date,
    applicant: Applicant,
    now: datetime,
    today: date,
) -> list[Event]:
    """Record an application (`today` is the agency's date, Beijing); a repeated one has no effect."""
    if state.determination_id:
        return []
    for what, value in (("determination_id", determination_id), ("citizen_id", citizen_id), ("region", region)):
        if not value.strip():
            raise MissingValueError(what)
    if injury_date > today:
        raise InjuryDateInFutureError(injury_date, today)
    applied = DeterminationApplied(
        determination_id=determination_id,
        citizen_id=citizen_id,
        employer_id=employer_id,
        region=region,
        injury_date=injury_date,
        applicant=applicant,
        at=now,
    )
    return [applied]


def decide_accept(state: Determination, *, facts_clear: bool, now: datetime) -> list[Event]:
    """Accept a complete application; `facts_clear` shortens the decision limit to 15 days."""
    if not state.determination_id:
        raise DeterminationNotFoundError()
    if state.status is not DeterminationStatus.APPLIED:
        return []  # already accepted or decided: a repeated acceptance has no effect
    return [DeterminationAccepted(determination_id=state.determination_id, facts_clear=facts_clear, at=now)]


def _check_decidable(state: Determination, outcome: DeterminationStatus) -> bool:
    """Whether a decision is still to be made; the same decision again is False, a different one an error."""
    if not state.determination_id:
        raise DeterminationNotFoundError()
    if state.status is outcome:
        return False
    if state.status is not DeterminationStatus.ACCEPTED:
        raise DeterminationStageError(
            state.determination_id, f"it is {state.status}: a decision follows acceptance and is made once"
        )
    return True


def decide_recognise(state: Determination, *, now: datetime) -> list[Event]:
    """Recognise the injury (认定工伤): the worker's settlements now go through the network."""
    if not _check_decidable(state, DeterminationStatus.RECOGNISED):
        return []
    recognised = DeterminationRecognised(
        determination_id=state.determination_id, citizen_id=state.citizen_id, region=state.region, at=now
    )
    return [recognised]


def decide_deny(state: Determination, *, reason: str, now: datetime) -> list[Event]:
    """Decide it is not a work injury (不予认定), with the written reason."""
    if not reason.strip():
        raise MissingValueError("the reason for not recognising the injury")
    if not _check_decidable(state, DeterminationStatus.DENIED):
        return []
    denied = DeterminationDenied(
        determination_id=state.determination_id,
        citizen_id=state.citizen_id,
        region=state.region,
        reason=reason,
        at=now,
    )
    return [denied]


def decide_deadline(state: Determination, *, stage: DeterminationStage, due_at: datetime, now: datetime) -> list[Event]:
    """A stage still open at its due time is breached, once; a closed stage, another stage, or a due
    time not yet reached yields nothing."""
    if open_stage(state) != stage or stage in state.breached or now < due_at:
        return []
    return [DeterminationDeadlineBreached(determination_id=state.determination_id, stage=stage, due_at=due_at, at=now)]
