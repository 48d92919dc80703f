"""Review (复查) of closed cases: the sample, a worker's dispute, and a failed check reopening the case."""

from __future__ import annotations

from datetime import timedelta

import pytest

from arrears.domain import case, review
from arrears.domain.errors import (
    MissingValueError,
    ReviewError,
    UnknownWorkerError,
    UnpaidWagesError,
    WrongStatusError,
)
from arrears.domain.events import CaseReopened, Event, ReviewFailed, ReviewPassed, ReviewScheduled
from arrears.domain.orders import decide_record_payment
from arrears.domain.rules import review_sampled
from arrears.domain.values import CaseStatus, ReviewReason
from tests.unit.arrears.examples import CASE_ID, EMPLOYER, LATER, NANSHAN, NOW, WANG, ZHANG, filed, in_full, paid

REVIEWED_AT = LATER + timedelta(days=20)


def closed() -> list[Event]:
    events = filed()
    events += decide_record_payment(case.fold(events), payer=EMPLOYER, payments=in_full(), now=NOW)
    return [*events, *case.decide_close(case.fold(events), now=LATER)]


def disputed() -> list[Event]:
    events = closed()
    return [*events, *review.decide_dispute(case.fold(events), citizen_id=ZHANG, now=REVIEWED_AT)]


def test_a_closed_case_in_the_sample_is_reviewed() -> None:
    state = case.fold(closed())
    assert review.decide_sample_review(state, sample_percent=100, now=LATER) == [
        ReviewScheduled(case_id=CASE_ID, reason=ReviewReason.SAMPLE, disputed_by="", at=LATER)
    ]
    assert review.decide_sample_review(state, sample_percent=0, now=LATER) == []


def test_the_sample_decision_follows_the_deterministic_draw() -> None:
    state = case.fold(closed())
    for percent in (5, 20, 50, 80):
        scheduled = review.decide_sample_review(state, sample_percent=percent, now=LATER)
        assert bool(scheduled) == review_sampled(CASE_ID, percent)


def test_only_a_closed_case_is_sampled() -> None:
    with pytest.raises(WrongStatusError, match="is investigating: cannot sample it for review"):
        review.decide_sample_review(case.fold(filed()), sample_percent=100, now=LATER)
    assert review.decide_sample_review(case.fold(disputed()), sample_percent=100, now=LATER) == []  # already under way


def test_every_dispute_by_a_worker_of_the_case_is_reviewed() -> None:
    events = disputed()
    assert events[-1] == ReviewScheduled(
        case_id=CASE_ID, reason=ReviewReason.DISPUTE, disputed_by=ZHANG, at=REVIEWED_AT
    )
    assert case.fold(events).status is CaseStatus.REVIEWING
    assert review.decide_dispute(case.fold(events), citizen_id=WANG, now=REVIEWED_AT) == []  # one review at a time


def test_a_dispute_comes_from_a_worker_about_a_closed_case() -> None:
    with pytest.raises(UnknownWorkerError):
        review.decide_dispute(case.fold(closed()), citizen_id="110105199203031111", now=REVIEWED_AT)
    with pytest.raises(WrongStatusError, match="its inspector hears the worker"):
        review.decide_dispute(case.fold(filed()), citizen_id=ZHANG, now=REVIEWED_AT)


def test_a_passed_review_ends_the_matter_and_a_later_dispute_reopens_the_check() -> None:
    events = disputed()
    passed = review.decide_pass_review(
        case.fold(events), reviewer="南山区监察大队 陈某", findings="银行流水核实到账", now=REVIEWED_AT
    )
    assert passed == [
        ReviewPassed(case_id=CASE_ID, reviewer="南山区监察大队 陈某", findings="银行流水核实到账", at=REVIEWED_AT)
    ]
    events += passed
    assert case.fold(events).status is CaseStatus.REVIEWED
    again = review.decide_dispute(case.fold(events), citizen_id=WANG, now=REVIEWED_AT + timedelta(days=5))
    assert [type(e) for e in again] == [ReviewScheduled]


def test_a_failed_review_takes_back_what_was_not_received_and_reopens_the_case() -> None:
    events = disputed()
    failed = review.decide_fail_review(
        case.fold(events),
        reviewer="陈某",
        findings="张某实际未收到 3,000 元",
        not_received=[paid(ZHANG, 300_000)],
        now=REVIEWED_AT,
    )
    assert failed == [
        ReviewFailed(
            case_id=CASE_ID,
            reviewer="陈某",
            findings="张某实际未收到 3,000 元",
            not_received=(paid(ZHANG, 300_000),),
            at=REVIEWED_AT,
        ),
        CaseReopened(
            case_id=CASE_ID, district=NANSHAN, reason="review failed: 张某实际未收到 3,000 元", at=REVIEWED_AT
        ),
    ]
    events += failed
    state = case.fold(events)
    assert (state.status, state.clock_started_at, state.working_days, state.reopened) == (
        CaseStatus.INVESTIGATING,
        REVIEWED_AT,
        60,
        1,
    )
    assert state.unpaid_fen == 300_000 and state.outcome is None
    with pytest.raises(UnpaidWagesError, match="300000 fen"):
        case.decide_close(state, now=REVIEWED_AT)
    events += decide_record_payment(state, payer=EMPLOYER, payments=[paid(ZHANG, 300_000)], now=REVIEWED_AT)
    assert case.decide_close(case.fold(events), now=REVIEWED_AT)


def test_a_failed_review_needs_findings_and_cannot_take_back_more_than_was_paid() -> None:
    state = case.fold(disputed())
    with pytest.raises(MissingValueError, match="findings"):
        review.decide_fail_review(state, reviewer="陈某", findings=" ", now=REVIEWED_AT)
    with pytest.raises(ReviewError, match="less than the 680001 fen"):
        review.decide_fail_review(
            state, reviewer="陈某", findings="x", not_received=[paid(ZHANG, 680_001)], now=REVIEWED_AT
        )
    reopened = review.decide_fail_review(state, reviewer="陈某", findings="工人不满意处理结果", now=REVIEWED_AT)
    assert case.fold([*disputed(), *reopened]).status is CaseStatus.INVESTIGATING


def test_a_review_is_recorded_only_while_one_is_scheduled() -> None:
    with pytest.raises(WrongStatusError, match="no review was scheduled"):
        review.decide_pass_review(case.fold(closed()), reviewer="陈某", findings="ok", now=REVIEWED_AT)
    with pytest.raises(MissingValueError, match="reviewer"):
        review.decide_pass_review(case.fold(disputed()), reviewer="", findings="ok", now=REVIEWED_AT)
