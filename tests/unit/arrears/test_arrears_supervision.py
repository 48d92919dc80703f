"""Stage limits and supervision (督办): the timer each lead or case needs, opening at the city, escalating to the province."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from arrears.domain import case, lead
from arrears.domain.deadlines import (
    ACCEPTANCE_WORKING_DAYS,
    ESCALATION_WORKING_DAYS,
    INVESTIGATION_WORKING_DAYS,
    STAGE_LIMITS,
    Timer,
)
from arrears.domain.events import Event, SupervisionEscalated, SupervisionOpened
from arrears.domain.review import decide_dispute, decide_fail_review
from arrears.domain.values import Level, Stage
from tests.unit.arrears.examples import BAOAN, CASE_ID, KNOWN, LEAD_ID, NANSHAN, NOW, ZHANG, filed, receive

ACCEPT_DUE = datetime(2026, 3, 23, 16, 0, tzinfo=UTC)  # end of the 5th working day after Monday 16 March
ESCALATE_DUE = datetime(2026, 3, 30, 16, 0, tzinfo=UTC)


def test_the_limits_in_working_days() -> None:
    assert (ACCEPTANCE_WORKING_DAYS, INVESTIGATION_WORKING_DAYS, ESCALATION_WORKING_DAYS) == (5, 60, 5)
    assert STAGE_LIMITS == {Stage.ACCEPTANCE: 5, Stage.INVESTIGATION: 60}


def supervised_lead() -> list[Event]:
    events = receive()
    return [
        *events,
        *lead.decide_deadline(lead.fold(events), stage=Stage.ACCEPTANCE, due_at=ACCEPT_DUE, now=ACCEPT_DUE),
    ]


def test_a_lead_waiting_at_its_district_needs_the_acceptance_timer() -> None:
    assert lead.pending_timer(lead.Lead()) is None
    assert lead.pending_timer(lead.fold(receive())) == Timer(stage=Stage.ACCEPTANCE, basis=NOW, working_days=5)


def test_an_unanswered_lead_is_supervised_by_the_city_then_the_province() -> None:
    state = lead.fold(receive())
    assert (
        lead.decide_deadline(state, stage=Stage.ACCEPTANCE, due_at=ACCEPT_DUE, now=ACCEPT_DUE - timedelta(seconds=1))
        == []
    )
    assert lead.decide_deadline(state, stage=Stage.INVESTIGATION, due_at=ACCEPT_DUE, now=ACCEPT_DUE) == []
    events = supervised_lead()
    assert events[-1] == SupervisionOpened(
        subject_id=LEAD_ID,
        stage=Stage.ACCEPTANCE,
        district=NANSHAN,
        level=Level.CITY,
        supervisor="440300",
        due_at=ACCEPT_DUE,
        at=ACCEPT_DUE,
    )
    state = lead.fold(events)
    assert lead.pending_timer(state) == Timer(stage=Stage.ACCEPTANCE, basis=ACCEPT_DUE, working_days=5, escalation=True)
    assert lead.decide_deadline(state, stage=Stage.ACCEPTANCE, due_at=ACCEPT_DUE, now=ESCALATE_DUE) == []  # a repeat
    escalated = lead.decide_deadline(state, stage=Stage.ACCEPTANCE, due_at=ESCALATE_DUE, now=ESCALATE_DUE)
    assert escalated == [
        SupervisionEscalated(
            subject_id=LEAD_ID,
            stage=Stage.ACCEPTANCE,
            district=NANSHAN,
            level=Level.PROVINCE,
            supervisor="440000",
            at=ESCALATE_DUE,
        )
    ]
    state = lead.fold([*events, *escalated])
    assert state.supervision is not None and state.supervision.level is Level.PROVINCE
    assert lead.pending_timer(state) is None
    assert lead.decide_deadline(state, stage=Stage.ACCEPTANCE, due_at=ESCALATE_DUE, now=ESCALATE_DUE) == []


def test_routing_on_starts_a_new_clock_without_supervision() -> None:
    events = supervised_lead()
    moved_at = ACCEPT_DUE + timedelta(hours=1)
    events += lead.decide_route(
        lead.fold(events), to_district=BAOAN, reason="项目在宝安", known_districts=KNOWN, now=moved_at
    )
    state = lead.fold(events)
    assert state.supervision is None
    assert lead.pending_timer(state) == Timer(stage=Stage.ACCEPTANCE, basis=moved_at, working_days=5)
    stale = lead.decide_deadline(state, stage=Stage.ACCEPTANCE, due_at=ACCEPT_DUE, now=ESCALATE_DUE)
    assert stale == []  # the old district's timer, due before the lead arrived here
    (fresh,) = lead.decide_deadline(state, stage=Stage.ACCEPTANCE, due_at=ESCALATE_DUE, now=ESCALATE_DUE)
    assert isinstance(fresh, SupervisionOpened) and (fresh.district, fresh.supervisor) == (BAOAN, "440300")


def test_an_answered_lead_needs_no_timer() -> None:
    events = receive()
    events += lead.decide_accept(lead.fold(events), case_id=CASE_ID, now=NOW)
    state = lead.fold(events)
    assert lead.pending_timer(state) is None
    assert lead.decide_deadline(state, stage=Stage.ACCEPTANCE, due_at=ACCEPT_DUE, now=ACCEPT_DUE) == []


INVESTIGATION_DUE = datetime(2026, 6, 12, 16, 0, tzinfo=UTC)


def test_the_investigation_timer_is_60_then_90_working_days() -> None:
    events = filed()
    assert case.pending_timer(case.fold(events)) == Timer(stage=Stage.INVESTIGATION, basis=NOW, working_days=60)
    events += case.decide_extend(case.fold(events), approved_by="局长", reason="复杂", now=NOW)
    assert case.pending_timer(case.fold(events)) == Timer(stage=Stage.INVESTIGATION, basis=NOW, working_days=90)


def test_an_overdue_investigation_is_supervised_then_escalated_and_closure_stops_the_clock() -> None:
    events = filed()
    events += case.decide_deadline(
        case.fold(events), stage=Stage.INVESTIGATION, due_at=INVESTIGATION_DUE, now=INVESTIGATION_DUE
    )
    opened = events[-1]
    assert isinstance(opened, SupervisionOpened)
    assert (opened.subject_id, opened.district, opened.level, opened.supervisor) == (
        CASE_ID,
        NANSHAN,
        Level.CITY,
        "440300",
    )
    later = INVESTIGATION_DUE + timedelta(days=7)
    escalated = case.decide_deadline(case.fold(events), stage=Stage.INVESTIGATION, due_at=later, now=later)
    assert [type(e) for e in escalated] == [SupervisionEscalated]
    closed = case.decide_withdraw(case.fold(events), reason="撤诉", now=later)
    assert case.pending_timer(case.fold([*events, *closed])) is None
    assert case.decide_deadline(case.fold([*events, *closed]), stage=Stage.INVESTIGATION, due_at=later, now=later) == []


def test_a_reopened_case_starts_a_new_60_day_clock() -> None:
    events = filed()
    events += case.decide_deadline(
        case.fold(events), stage=Stage.INVESTIGATION, due_at=INVESTIGATION_DUE, now=INVESTIGATION_DUE
    )
    events += case.decide_withdraw(case.fold(events), reason="和解", now=INVESTIGATION_DUE)
    events += decide_dispute(case.fold(events), citizen_id=ZHANG, now=INVESTIGATION_DUE)
    reopen_at = INVESTIGATION_DUE + timedelta(days=10)
    events += decide_fail_review(case.fold(events), reviewer="陈某", findings="未实际和解", now=reopen_at)
    state = case.fold(events)
    assert state.supervision is None and not state.extended
    assert case.pending_timer(state) == Timer(stage=Stage.INVESTIGATION, basis=reopen_at, working_days=60)
