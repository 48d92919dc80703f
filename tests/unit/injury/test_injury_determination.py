"""Work-injury determination: application, acceptance, decision, stage limits and breaches."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from injury.domain.determination import (
    Determination,
    decide_accept,
    decide_apply,
    decide_deadline,
    decide_deny,
    decide_recognise,
    determination_stream,
    fold,
    open_stage,
    stage_limit_days,
    stage_started_at,
)
from injury.domain.errors import (
    DeterminationNotFoundError,
    DeterminationStageError,
    InjuryDateInFutureError,
    MissingValueError,
)
from injury.domain.events import (
    DeterminationAccepted,
    DeterminationApplied,
    DeterminationDeadlineBreached,
    DeterminationDenied,
    DeterminationRecognised,
    Event,
)
from injury.domain.values import Applicant, DeterminationStage, DeterminationStatus

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=3)
CITIZEN = "11010519800101001X"


def applied() -> list[Event]:
    return decide_apply(
        Determination(),
        determination_id="D-1",
        citizen_id=CITIZEN,
        employer_id="91360100MA35XXXX1X",
        region="360100",
        injury_date=date(2026, 2, 20),
        applicant=Applicant.EMPLOYER,
        now=NOW,
        today=date(2026, 3, 2),
    )


def accepted(*, facts_clear: bool = False) -> list[Event]:
    events = applied()
    return [*events, *decide_accept(fold(events), facts_clear=facts_clear, now=LATER)]


def test_an_application_opens_the_acceptance_stage_once() -> None:
    events = applied()
    assert events == [
        DeterminationApplied(
            determination_id="D-1",
            citizen_id=CITIZEN,
            employer_id="91360100MA35XXXX1X",
            region="360100",
            injury_date=date(2026, 2, 20),
            applicant=Applicant.EMPLOYER,
            at=NOW,
        )
    ]
    state = fold(events)
    assert open_stage(state) is DeterminationStage.ACCEPTANCE
    assert stage_started_at(state, DeterminationStage.ACCEPTANCE) == NOW
    assert stage_limit_days(state, DeterminationStage.ACCEPTANCE) == 15
    assert determination_stream("D-1") == "determination-D-1"
    assert (
        decide_apply(
            state,
            determination_id="D-1",
            citizen_id=CITIZEN,
            employer_id="",
            region="360100",
            injury_date=date(2026, 2, 20),
            applicant=Applicant.WORKER,
            now=LATER,
            today=date(2026, 3, 5),
        )
        == []
    )


def test_an_injury_in_the_future_or_a_missing_person_is_refused() -> None:
    with pytest.raises(InjuryDateInFutureError, match="2026-03-03"):
        decide_apply(
            Determination(),
            determination_id="D-1",
            citizen_id=CITIZEN,
            employer_id="",
            region="360100",
            injury_date=date(2026, 3, 3),
            applicant=Applicant.WORKER,
            now=NOW,
            today=date(2026, 3, 2),
        )
    with pytest.raises(MissingValueError, match="citizen_id"):
        decide_apply(
            Determination(),
            determination_id="D-1",
            citizen_id="",
            employer_id="",
            region="360100",
            injury_date=date(2026, 2, 1),
            applicant=Applicant.WORKER,
            now=NOW,
            today=date(2026, 3, 2),
        )


@pytest.mark.parametrize(("facts_clear", "days"), [(False, 60), (True, 15)])
def test_the_decision_limit_is_60_days_or_15_when_facts_are_clear(facts_clear: bool, days: int) -> None:
    events = accepted(facts_clear=facts_clear)
    assert events[-1] == DeterminationAccepted(determination_id="D-1", facts_clear=facts_clear, at=LATER)
    state = fold(events)
    assert open_stage(state) is DeterminationStage.DECISION
    assert stage_started_at(state, DeterminationStage.DECISION) == LATER
    assert stage_limit_days(state, DeterminationStage.DECISION) == days
    assert decide_accept(state, facts_clear=not facts_clear, now=LATER) == []


def test_recognition_closes_the_case_and_is_made_once() -> None:
    events = accepted()
    recognised = decide_recognise(fold(events), now=LATER)
    assert recognised == [
        DeterminationRecognised(determination_id="D-1", citizen_id=CITIZEN, region="360100", at=LATER)
    ]
    state = fold([*events, *recognised])
    assert state.recognised and open_stage(state) is None
    assert decide_recognise(state, now=LATER) == []
    with pytest.raises(DeterminationStageError, match="made once"):
        decide_deny(state, reason="not at work", now=LATER)


def test_denial_gives_the_written_reason() -> None:
    events = accepted()
    denied = decide_deny(fold(events), reason="injured while off duty", now=LATER)
    assert denied == [
        DeterminationDenied(
            determination_id="D-1", citizen_id=CITIZEN, region="360100", reason="injured while off duty", at=LATER
        )
    ]
    state = fold([*events, *denied])
    assert state.status is DeterminationStatus.DENIED and not state.recognised
    with pytest.raises(MissingValueError, match="reason"):
        decide_deny(fold(events), reason=" ", now=LATER)


def test_a_decision_needs_an_accepted_application() -> None:
    with pytest.raises(DeterminationNotFoundError):
        decide_recognise(Determination(), now=NOW)
    with pytest.raises(DeterminationNotFoundError):
        decide_accept(Determination(), facts_clear=False, now=NOW)
    with pytest.raises(DeterminationStageError, match="follows acceptance"):
        decide_recognise(fold(applied()), now=NOW)


def test_an_open_stage_is_breached_once_at_its_limit() -> None:
    state = fold(applied())
    due = NOW + timedelta(days=15)
    assert decide_deadline(state, stage=DeterminationStage.ACCEPTANCE, due_at=due, now=due - timedelta(seconds=1)) == []
    assert decide_deadline(state, stage=DeterminationStage.DECISION, due_at=due, now=due) == []
    breach = decide_deadline(state, stage=DeterminationStage.ACCEPTANCE, due_at=due, now=due)
    assert breach == [
        DeterminationDeadlineBreached(determination_id="D-1", stage=DeterminationStage.ACCEPTANCE, due_at=due, at=due)
    ]
    breached = fold([*applied(), *breach])
    assert breached.breached == frozenset({DeterminationStage.ACCEPTANCE})
    assert decide_deadline(breached, stage=DeterminationStage.ACCEPTANCE, due_at=due, now=due) == []
    decided = fold([*accepted(), *decide_recognise(fold(accepted()), now=LATER)])
    late = LATER + timedelta(days=61)
    assert decide_deadline(decided, stage=DeterminationStage.DECISION, due_at=late, now=late) == []
