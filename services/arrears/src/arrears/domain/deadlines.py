"""Stage limits and supervision (督办): what a lead or case waits for, and what happens when it runs over.

Working days are counted outside the domain (the runtime's working-day calendar). The domain says
which timer a lead or case needs now (`Timer`: a stage, the instant the count starts, how many
working days); the application compares the timer before and after each decision, cancels the old
one and schedules the new one, and hands the due instant back to `decide_deadline`.

Each stage needs one timer at a time: the stage limit; once it passes with the stage still open,
supervision opens at the city above the district and the timer becomes the escalation period; if
that passes too, supervision escalates to the province and no timer is left. A new clock (the lead
routed to another district, a case reopened) starts the stage afresh, without supervision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import assert_never

from arrears.domain.events import SupervisionEscalated, SupervisionEvent, SupervisionOpened
from arrears.domain.values import Level, Stage, city_of, province_of

ACCEPTANCE_WORKING_DAYS = 5  # accept or refuse within 5 working days of arrival at the district
INVESTIGATION_WORKING_DAYS = 60  # art. 17: close within 60 working days of filing
EXTENSION_WORKING_DAYS = 30  # art. 17: once, +30 with the department head's approval
ESCALATION_WORKING_DAYS = 5  # still open this long after supervision opened: the province takes over

STAGE_LIMITS: dict[Stage, int] = {
    Stage.ACCEPTANCE: ACCEPTANCE_WORKING_DAYS,
    Stage.INVESTIGATION: INVESTIGATION_WORKING_DAYS,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Supervision:
    """Supervision of the current clock: who supervises, the limit that passed, and when it opened."""

    level: Level
    due_at: datetime
    opened_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Timer:
    """The one deadline a lead or case needs now: `working_days` counted from `basis`'s Beijing date.

    `escalation` is False for the stage limit, True for the further period after supervision opened.
    """

    stage: Stage
    basis: datetime
    working_days: int
    escalation: bool = False


def next_timer(
    stage: Stage, *, started_at: datetime, working_days: int, supervision: Supervision | None
) -> Timer | None:
    """The stage limit; after supervision opened, the escalation period; after escalation, none."""
    if supervision is None:
        return Timer(stage=stage, basis=started_at, working_days=working_days)
    if supervision.level is Level.CITY:
        return Timer(stage=stage, basis=supervision.opened_at, working_days=ESCALATION_WORKING_DAYS, escalation=True)
    return None


def supervise(
    *, subject_id: str, district: str, timer: Timer | None, stage: Stage, due_at: datetime, now: datetime
) -> list[SupervisionEvent]:
    """The decision when the timer of `stage` came due at `due_at`, given the timer the lead or case needs now.

    Nothing when the stage is not open (no timer, or another stage's), the due instant has not come,
    or the timer is stale (due before the current clock or supervision began: a repeated firing or
    one of an earlier district's clock). Otherwise the stage limit opens supervision at the city above
    the district, and the escalation period escalates it to the province.
    """
    if timer is None or timer.stage != stage or now < due_at or due_at <= timer.basis:
        return []
    if not timer.escalation:
        return [
            SupervisionOpened(
                subject_id=subject_id,
                stage=stage,
                district=district,
                level=Level.CITY,
                supervisor=city_of(district),
                due_at=due_at,
                at=now,
            )
        ]
    return [
        SupervisionEscalated(
            subject_id=subject_id,
            stage=stage,
            district=district,
            level=Level.PROVINCE,
            supervisor=province_of(district),
            at=now,
        )
    ]


def supervised(supervision: Supervision | None, event: SupervisionEvent) -> Supervision | None:
    """Supervision after a supervision event (the evolve step both aggregates share)."""
    match event:
        case SupervisionOpened():
            return Supervision(level=event.level, due_at=event.due_at, opened_at=event.at)
        case SupervisionEscalated():
            if supervision is None:
                return None
            return Supervision(level=event.level, due_at=supervision.due_at, opened_at=supervision.opened_at)
        case _:
            assert_never(event)
