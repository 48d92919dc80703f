"""The old region's case: the letter, unpaid months, sheet + funds + termination, deadlines; end to end."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from transfer.domain import transfer_in
from transfer.domain.errors import InvalidPeriodError, LetterNotReceivedError, MissingValueError
from transfer.domain.events import (
    ContactLetterReceived,
    ContactLetterSent,
    Event,
    FundsTransferred,
    InformationSheetIssued,
    LocalRelationshipTerminated,
    StageDeadlineBreached,
    TransferCompleted,
    UnpaidContributionsFound,
)
from transfer.domain.transfer_out import (
    TransferOut,
    decide_deadline,
    decide_issue_sheet,
    decide_receive_letter,
    fold,
    open_stage,
    transfer_out_stream,
)
from transfer.domain.values import CaseStatus, OutStatus, Period, PeriodKind, Sex, Stage

CASE = "c-0001"
NOW = datetime(2026, 3, 16, 1, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=7)


def month(m: str, *, batch: str | None = None) -> Period:
    return Period(
        month=m,
        base_fen=500_000,
        kind=PeriodKind.EMPLOYEE,
        employer_rate=Decimal("0.16"),
        account_fen=40_000,
        back_payment_batch=batch,
    )


ORDINARY = tuple(month(f"2010-{n:02d}") for n in range(1, 13))  # 480,000 + 720,000
BACK_PAID = tuple(month(f"{2000 + n // 12}-{n % 12 + 1:02d}", batch="bp-9") for n in range(36))


def letter() -> list[ContactLetterReceived]:
    events = decide_receive_letter(
        TransferOut(), case_id=CASE, person_ref="p-1", citizen_id="11010519800101001X", from_region="44", now=NOW
    )
    assert all(isinstance(e, ContactLetterReceived) for e in events)
    return [e for e in events if isinstance(e, ContactLetterReceived)]


def received() -> TransferOut:
    return fold(letter())


def issue(state: TransferOut, periods: tuple[Period, ...] = ORDINARY, unpaid: tuple[str, ...] = ()) -> list[Event]:
    return list(decide_issue_sheet(state, periods=periods, unpaid_months=unpaid, now=LATER, reference="bank-77"))


def test_a_letter_opens_the_case_once() -> None:
    assert letter() == [
        ContactLetterReceived(case_id=CASE, person_ref="p-1", citizen_id="11010519800101001X", from_region="44", at=NOW)
    ]
    state = received()
    assert (state.case_id, state.new_region, state.status) == (CASE, "44", OutStatus.LETTER_RECEIVED)
    duplicate = decide_receive_letter(
        state, case_id=CASE, person_ref="p-1", citizen_id="x", from_region="44", now=LATER
    )
    assert duplicate == []
    assert transfer_out_stream(CASE) == "transfer-out-c-0001"


def test_a_letter_names_its_case_and_sender() -> None:
    with pytest.raises(MissingValueError, match="from_region"):
        decide_receive_letter(TransferOut(), case_id=CASE, person_ref="p", citizen_id="x", from_region="", now=NOW)


def test_the_sheet_answers_a_letter_only() -> None:
    with pytest.raises(LetterNotReceivedError, match="contact letter"):
        issue(TransferOut())


def test_sheet_funds_and_termination_go_together() -> None:
    events = issue(received())
    assert events == [
        InformationSheetIssued(
            case_id=CASE, periods=ORDINARY, individual_fen=480_000, pooled_fen=720_000, returned_periods=(), at=LATER
        ),
        FundsTransferred(case_id=CASE, amount_fen=1_200_000, reference="bank-77", at=LATER),
        LocalRelationshipTerminated(case_id=CASE, person_ref="p-1", at=LATER),
    ]
    state = fold([*letter(), *events])
    assert state.status is OutStatus.TERMINATED and state.amount_fen == 1_200_000
    assert open_stage(state) is None
    assert issue(state) == []  # already issued


def test_an_undocumented_back_payment_of_3_years_is_returned_not_transferred() -> None:
    events = issue(received(), periods=(*ORDINARY, *BACK_PAID))
    issued = events[0]
    assert isinstance(issued, InformationSheetIssued)
    assert issued.periods == ORDINARY
    assert issued.returned_periods == tuple(p.month for p in BACK_PAID)
    assert (issued.individual_fen, issued.pooled_fen) == (480_000, 720_000)
    moved = events[1]
    assert isinstance(moved, FundsTransferred) and moved.amount_fen == 1_200_000


def test_unpaid_months_hold_the_case_until_collected() -> None:
    state = received()
    found = issue(state, unpaid=("2025-12", "2025-11", "2025-12"))
    assert found == [UnpaidContributionsFound(case_id=CASE, months=("2025-11", "2025-12"), at=LATER)]
    waiting = fold([*letter(), *found])
    assert waiting.status is OutStatus.UNPAID and open_stage(waiting) is Stage.OLD_AGENCY
    assert issue(waiting, unpaid=("2025-11", "2025-12")) == []  # the same months: once
    more = issue(waiting, unpaid=("2025-11", "2025-12", "2026-01"))
    assert [type(e) for e in more] == [UnpaidContributionsFound]
    collected = issue(waiting)
    assert [type(e) for e in collected] == [InformationSheetIssued, FundsTransferred, LocalRelationshipTerminated]


def test_unreadable_input_is_refused() -> None:
    with pytest.raises(InvalidPeriodError):
        issue(received(), unpaid=("2025-13",))
    with pytest.raises(InvalidPeriodError):
        issue(received(), periods=(month("2010-01"), month("2010-01")))
    with pytest.raises(MissingValueError, match="reference"):
        decide_issue_sheet(received(), periods=ORDINARY, unpaid_months=(), now=LATER, reference=" ")


def test_the_old_agency_stage_is_breached_once_and_never_after_the_sheet() -> None:
    due = NOW + timedelta(days=21)
    assert decide_deadline(TransferOut(), stage=Stage.OLD_AGENCY, due_at=due, now=due) == []
    state = received()
    assert decide_deadline(state, stage=Stage.OLD_AGENCY, due_at=due, now=due - timedelta(minutes=1)) == []
    assert decide_deadline(state, stage=Stage.REVIEW, due_at=due, now=due) == []  # not the old agency's stage
    breach = decide_deadline(state, stage=Stage.OLD_AGENCY, due_at=due, now=due)
    assert breach == [StageDeadlineBreached(case_id=CASE, stage=Stage.OLD_AGENCY, due_at=due, at=due)]
    breached = fold([*letter(), *breach])
    assert decide_deadline(breached, stage=Stage.OLD_AGENCY, due_at=due, now=due) == []
    done = fold([*letter(), *issue(state)])
    assert decide_deadline(done, stage=Stage.OLD_AGENCY, due_at=due, now=due) == []


def test_end_to_end_the_old_sheet_completes_the_new_case() -> None:
    applied = transfer_in.decide_apply(
        transfer_in.TransferIn(),
        case_id=CASE,
        person_ref="p-1",
        citizen_id="11010519800101001X",
        from_region="36",
        to_region="44",
        channel="counter",
        now=NOW,
        today=date(2026, 3, 16),
        enrolled_here=True,
        contributing_here=True,
        is_pensioner=False,
        sex=Sex.FEMALE,
        birth=date(1990, 5, 1),
        hukou_province="36",
        organisational_transfer=False,
        new_periods=(month("2026-03"),),
    )
    sent = applied[1]
    assert isinstance(sent, ContactLetterSent)
    old = fold(
        decide_receive_letter(
            TransferOut(),
            case_id=sent.case_id,
            person_ref=sent.person_ref,
            citizen_id=sent.citizen_id,
            from_region=sent.to_region,
            now=NOW,
        )
    )
    issued, moved, _ = decide_issue_sheet(
        old, periods=(*ORDINARY, *BACK_PAID), unpaid_months=(), now=LATER, reference="bank-77"
    )
    assert isinstance(issued, InformationSheetIssued) and isinstance(moved, FundsTransferred)
    new_case = transfer_in.fold(applied)
    got_funds = transfer_in.decide_receive_funds(
        new_case, amount_fen=moved.amount_fen, reference=moved.reference, now=LATER, new_periods=(month("2026-03"),)
    )
    got_sheet = transfer_in.decide_receive_sheet(
        transfer_in.fold([*applied, *got_funds]),
        periods=issued.periods,
        individual_fen=issued.individual_fen,
        pooled_fen=issued.pooled_fen,
        returned_periods=issued.returned_periods,
        now=LATER,
        new_periods=(month("2026-03"),),
    )
    assert got_sheet[-1] == TransferCompleted(
        case_id=CASE, individual_fen=480_000, pooled_fen=720_000, months_restored=12, at=LATER
    )
    assert transfer_in.fold([*applied, *got_funds, *got_sheet]).status is CaseStatus.COMPLETED
