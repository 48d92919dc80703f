"""Review (复查) of a closed case: was the money really paid? Decisions that return events.

After closure a deterministic sample of cases is checked (`rules.review_sampled`), and every case a
worker of it disputes. A passed check ends the matter; a failed one takes back the amounts the
workers did not actually receive and reopens the case on a new investigation clock of 60 working days.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from arrears.domain.case_state import Case
from arrears.domain.errors import (
    CaseNotFoundError,
    InvalidAmountError,
    MissingValueError,
    ReviewError,
    UnknownWorkerError,
    WrongStatusError,
)
from arrears.domain.events import CaseReopened, Event, ReviewFailed, ReviewPassed, ReviewScheduled
from arrears.domain.rules import review_sampled
from arrears.domain.values import CaseStatus, ReviewReason, WorkerPayment, masked, normal_id

_REVIEWABLE = (CaseStatus.CLOSED, CaseStatus.REVIEWED)


def decide_sample_review(state: Case, *, sample_percent: int, now: datetime) -> list[Event]:
    """At closure: schedule the review when the case falls in the sample; nothing when it does not,
    or when it is already being or has been reviewed."""
    _check_found(state)
    if state.status is not CaseStatus.CLOSED:
        if state.status in (CaseStatus.REVIEWING, CaseStatus.REVIEWED):
            return []
        raise WrongStatusError(f"case {state.case_id}", state.status, "sample it for review", "only a closed case is")
    if not review_sampled(state.case_id, sample_percent):
        return []
    return [ReviewScheduled(case_id=state.case_id, reason=ReviewReason.SAMPLE, disputed_by="", at=now)]


def decide_dispute(state: Case, *, citizen_id: str, now: datetime) -> list[Event]:
    """A worker of the closed case says the wages were not really paid: the case is reviewed.
    A review already under way yields nothing; a case still open is handled by its inspector."""
    _check_found(state)
    worker = state.worker(citizen_id)
    if worker is None:
        raise UnknownWorkerError(masked(normal_id(citizen_id)), f"case {state.case_id}")
    if state.status is CaseStatus.REVIEWING:
        return []
    if state.status not in _REVIEWABLE:
        raise WrongStatusError(
            f"case {state.case_id}",
            state.status,
            "dispute it",
            "the case is still open: its inspector hears the worker",
        )
    return [ReviewScheduled(case_id=state.case_id, reason=ReviewReason.DISPUTE, disputed_by=worker.citizen_id, at=now)]


def decide_pass_review(state: Case, *, reviewer: str, findings: str, now: datetime) -> list[Event]:
    """The check found the wages paid as recorded."""
    _check_reviewing(state, reviewer)
    return [ReviewPassed(case_id=state.case_id, reviewer=reviewer, findings=findings, at=now)]


def decide_fail_review(
    state: Case, *, reviewer: str, findings: str, now: datetime, not_received: Sequence[WorkerPayment] = ()
) -> list[Event]:
    """The check found the wages not (all) paid: `not_received` are the amounts recorded as paid that
    the workers did not get (none when the finding is of another kind). The case reopens."""
    _check_reviewing(state, reviewer)
    if not findings.strip():
        raise MissingValueError("the findings of a failed review")
    taken_back: dict[str, int] = {}
    for p in not_received:
        citizen_id = normal_id(p.citizen_id)
        if p.amount_fen <= 0:
            raise InvalidAmountError(f"the amount not received by worker {masked(citizen_id)}", p.amount_fen)
        taken_back[citizen_id] = taken_back.get(citizen_id, 0) + p.amount_fen
    for citizen_id, amount in taken_back.items():
        account = state.worker(citizen_id)
        if account is None:
            raise UnknownWorkerError(masked(citizen_id), f"case {state.case_id}")
        if amount > account.paid_fen:
            raise ReviewError(
                f"worker {masked(citizen_id)} has {account.paid_fen} fen recorded as paid, less than the "
                f"{amount} fen found not received"
            )
    unpaid = tuple(WorkerPayment(citizen_id=normal_id(p.citizen_id), amount_fen=p.amount_fen) for p in not_received)
    return [
        ReviewFailed(case_id=state.case_id, reviewer=reviewer, findings=findings, not_received=unpaid, at=now),
        CaseReopened(case_id=state.case_id, district=state.district, reason=f"review failed: {findings}", at=now),
    ]


def _check_found(state: Case) -> None:
    if not state.case_id:
        raise CaseNotFoundError()


def _check_reviewing(state: Case, reviewer: str) -> None:
    _check_found(state)
    if state.status is not CaseStatus.REVIEWING:
        raise WrongStatusError(
            f"case {state.case_id}", state.status, "record a review", "no review was scheduled for the case"
        )
    if not reviewer.strip():
        raise MissingValueError("the reviewer")
