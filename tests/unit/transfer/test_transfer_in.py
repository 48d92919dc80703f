"""The new region's case: application review, sheet and funds in either order, mismatches, deadlines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from transfer.domain.errors import (
    BirthInFutureError,
    CaseNotFoundError,
    InvalidAmountError,
    InvalidPeriodError,
    MissingValueError,
    NotAwaitingTransferError,
)
from transfer.domain.events import (
    AccountsMerged,
    ContactLetterSent,
    Event,
    FundsMismatchDetected,
    FundsReceived,
    InformationSheetReceived,
    StageDeadlineBreached,
    TemporaryAccountOpened,
    TransferApplied,
    TransferCompleted,
    TransferRefused,
)
from transfer.domain.transfer_in import (
    TransferIn,
    decide_apply,
    decide_deadline,
    decide_receive_funds,
    decide_receive_sheet,
    fold,
    open_stage,
    stage_started_at,
    transfer_stream,
)
from transfer.domain.values import CaseStatus, Period, PeriodKind, Sex, Stage

CASE = "c-0001"
NOW = datetime(2026, 3, 14, 2, 0, tzinfo=UTC)
TODAY = date(2026, 3, 14)
LATER = NOW + timedelta(days=10)


def month(m: str, base_fen: int = 500_000, account_fen: int = 40_000) -> Period:
    return Period(
        month=m, base_fen=base_fen, kind=PeriodKind.EMPLOYEE, employer_rate=Decimal("0.16"), account_fen=account_fen
    )


OLD = tuple(month(f"2010-{n:02d}") for n in range(1, 13))  # individual 480,000 + pooled 720,000
OLD_TOTAL = 1_200_000
NEW = (month("2026-02"), month("2026-03"))


def apply(state: TransferIn | None = None, **overrides: Any) -> list[Event]:
    args: dict[str, Any] = {
        "case_id": CASE,
        "person_ref": "p-7f3a9c",
        "citizen_id": "11010519800101001X",
        "from_region": "36",
        "to_region": "44",
        "channel": "online",
        "now": NOW,
        "today": TODAY,
        "enrolled_here": True,
        "contributing_here": True,
        "is_pensioner": False,
        "sex": Sex.MALE,
        "birth": date(1980, 1, 1),
        "hukou_province": "36",
        "organisational_transfer": False,
        "new_periods": NEW,
    }
    args.update(overrides)
    return decide_apply(state or TransferIn(), **args)


def letter_sent() -> TransferIn:
    return fold(apply())


def sheet(state: TransferIn, *, individual_fen: int = 480_000, pooled_fen: int = 720_000, **kw: Any) -> list[Event]:
    periods = kw.pop("periods", OLD)
    return decide_receive_sheet(
        state,
        periods=periods,
        individual_fen=individual_fen,
        pooled_fen=pooled_fen,
        returned_periods=(),
        now=LATER,
        **kw,
    )


def funds(state: TransferIn, amount_fen: int = OLD_TOTAL) -> list[Event]:
    return decide_receive_funds(state, amount_fen=amount_fen, reference="bank-77", now=LATER, new_periods=NEW)


# Applying


def test_an_application_passing_every_rule_sends_the_contact_letter_at_once() -> None:
    events = apply()
    assert events == [
        TransferApplied(
            case_id=CASE,
            person_ref="p-7f3a9c",
            citizen_id="11010519800101001X",
            from_region="36",
            to_region="44",
            channel="online",
            applied_at=NOW,
        ),
        ContactLetterSent(
            case_id=CASE,
            from_region="36",
            to_region="44",
            person_ref="p-7f3a9c",
            citizen_id="11010519800101001X",
            at=NOW,
        ),
    ]
    state = fold(events)
    assert state.status is CaseStatus.LETTER_SENT
    assert open_stage(state) is Stage.OLD_AGENCY
    assert transfer_stream(CASE) == "transfer-c-0001"


def test_applying_again_changes_nothing() -> None:
    assert apply(letter_sent()) == []
    assert apply(fold(apply(is_pensioner=True)), is_pensioner=False) == []


@pytest.mark.parametrize(("from_region", "to_region"), [("44", "44"), ("360100", "36"), ("3601", "3607")])
def test_two_places_in_one_province_merge_the_accounts_here_at_once(from_region: str, to_region: str) -> None:
    events = apply(from_region=from_region, to_region=to_region)
    assert events[1:] == [AccountsMerged(case_id=CASE, person_ref="p-7f3a9c", months=2, individual_fen=80_000, at=NOW)]
    state = fold(events)
    assert state.status is CaseStatus.MERGED
    assert open_stage(state) is None


def test_within_one_province_the_rules_still_refuse_a_pensioner_first() -> None:
    events = apply(from_region="44", to_region="44", is_pensioner=True)
    assert isinstance(events[1], TransferRefused)
    assert events[1].reason_code == "pensioner"


@pytest.mark.parametrize(
    ("overrides", "code", "why"),
    [
        ({"is_pensioner": True}, "pensioner", "already draw a basic pension"),
        ({"enrolled_here": False}, "not_enrolled_here", "not yet enrolled in 44"),
        ({"contributing_here": False}, "not_enrolled_here", "not yet contributing in 44"),
        ({"old_periods_known": (month("2026-02"),)}, "overlap", "2026-02 were paid both in 36 and in 44"),
    ],
)
def test_a_refusal_is_a_fact_with_the_reason_for_the_applicant(overrides: dict[str, Any], code: str, why: str) -> None:
    events = apply(**overrides)
    assert isinstance(events[0], TransferApplied)
    refused = events[1]
    assert isinstance(refused, TransferRefused)
    assert (refused.case_id, refused.reason_code, refused.at) == (CASE, code, NOW)
    assert why in refused.reason
    assert len(events) == 2
    state = fold(events)
    assert (state.status, state.refusal_code, state.refusal_reason) == (CaseStatus.REFUSED, code, refused.reason)
    assert open_stage(state) is None


def test_the_first_failed_rule_is_the_one_told() -> None:
    refused = apply(is_pensioner=True, enrolled_here=False)[1]
    assert isinstance(refused, TransferRefused) and refused.reason_code == "pensioner"


def test_a_refused_application_opens_no_temporary_account() -> None:
    events = apply(enrolled_here=False, birth=date(1960, 1, 1))
    assert [type(e) for e in events] == [TransferApplied, TransferRefused]


def test_the_age_rule_opens_a_temporary_account_instead_of_sending_a_letter() -> None:
    events = apply(birth=date(1976, 3, 14))  # 50 today, hukou 36, moving to 44
    assert [type(e) for e in events] == [TransferApplied, TemporaryAccountOpened]
    opened = events[1]
    assert isinstance(opened, TemporaryAccountOpened)
    assert (opened.case_id, opened.person_ref, opened.at) == (CASE, "p-7f3a9c", NOW)
    assert "temporary contribution account" in opened.reason and "stays in 36" in opened.reason
    state = fold(events)
    assert state.temporary_account and state.status is CaseStatus.TEMPORARY_ACCOUNT
    assert open_stage(state) is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"birth": date(1976, 3, 15)},  # 49 until tomorrow
        {"sex": Sex.FEMALE, "birth": date(1986, 3, 15)},  # 39
        {"birth": date(1970, 1, 1), "hukou_province": "440300"},  # returning to the hukou province
        {"birth": date(1970, 1, 1), "organisational_transfer": True},
    ],
)
def test_the_age_rule_does_not_apply(overrides: dict[str, Any]) -> None:
    assert [type(e) for e in apply(**overrides)] == [TransferApplied, ContactLetterSent]


def test_a_woman_of_40_moving_away_from_her_hukou_province_gets_a_temporary_account() -> None:
    events = apply(sex=Sex.FEMALE, birth=date(1986, 3, 14))
    assert isinstance(events[1], TemporaryAccountOpened) and "women from 40" in events[1].reason


def test_unusable_input_is_an_error_not_a_refusal() -> None:
    with pytest.raises(BirthInFutureError):
        apply(birth=date(2026, 3, 15))
    with pytest.raises(MissingValueError, match="case_id"):
        apply(case_id=" ")
    with pytest.raises(InvalidPeriodError):
        apply(new_periods=(month("2026-13"),))


# Sheet and funds


def test_sheet_then_funds_completes_the_transfer() -> None:
    first = sheet(letter_sent())
    assert first == [
        InformationSheetReceived(
            case_id=CASE, periods=OLD, individual_fen=480_000, pooled_fen=720_000, returned_periods=(), at=LATER
        )
    ]
    state = fold([*apply(), *first])
    assert open_stage(state) is Stage.OLD_AGENCY
    second = funds(state)
    assert second == [
        FundsReceived(case_id=CASE, amount_fen=OLD_TOTAL, reference="bank-77", at=LATER),
        TransferCompleted(case_id=CASE, individual_fen=480_000, pooled_fen=720_000, months_restored=12, at=LATER),
    ]
    done = fold([*apply(), *first, *second])
    assert done.status is CaseStatus.COMPLETED and done.months_restored == 12
    assert open_stage(done) is None


def test_funds_then_sheet_completes_the_transfer() -> None:
    first = funds(letter_sent())
    assert [type(e) for e in first] == [FundsReceived]
    state = fold([*apply(), *first])
    assert state.received_fen == OLD_TOTAL and open_stage(state) is Stage.OLD_AGENCY
    second = sheet(state, new_periods=NEW)
    assert [type(e) for e in second] == [InformationSheetReceived, TransferCompleted]


def test_a_second_sheet_or_second_funds_have_no_effect() -> None:
    with_sheet = fold([*apply(), *sheet(letter_sent())])
    assert sheet(with_sheet, individual_fen=1) == []
    with_funds = fold([*apply(), *funds(letter_sent())])
    assert funds(with_funds, 5) == []
    done = fold([*apply(), *sheet(letter_sent()), *funds(with_sheet)])
    assert sheet(done) == [] and funds(done) == []


def test_returned_months_are_recorded_in_order() -> None:
    events = decide_receive_sheet(
        letter_sent(),
        periods=OLD,
        individual_fen=480_000,
        pooled_fen=720_000,
        returned_periods=("2005-02", "2005-01"),
        now=LATER,
    )
    state = fold([*apply(), *events])
    assert state.returned_periods == ("2005-01", "2005-02")


@pytest.mark.parametrize("amount", [OLD_TOTAL - 1, OLD_TOTAL + 1])
@pytest.mark.parametrize("funds_first", [False, True])
def test_funds_one_fen_off_are_flagged_and_the_case_stops(amount: int, funds_first: bool) -> None:
    state = letter_sent()
    if funds_first:
        first = funds(state, amount)
        events = [*first, *sheet(fold([*apply(), *first]))]
    else:
        first = sheet(state)
        events = [*first, *funds(fold([*apply(), *first]), amount)]
    flagged = events[-1]
    assert isinstance(flagged, FundsMismatchDetected)
    assert (flagged.expected_fen, flagged.received_fen, flagged.reason_code) == (OLD_TOTAL, amount, "amount")
    assert f"received {amount} fen" in flagged.reason
    assert not any(isinstance(e, TransferCompleted) for e in events)
    after = fold([*apply(), *events])
    assert after.status is CaseStatus.MISMATCH and open_stage(after) is Stage.NEW_AGENCY


def test_a_sheet_whose_amounts_do_not_follow_from_its_periods_is_flagged() -> None:
    # the stated total matches the funds, but pooled is 1 fen too high and individual 1 fen too low
    with_sheet = fold([*apply(), *sheet(letter_sent(), individual_fen=479_999, pooled_fen=720_001)])
    flagged = funds(with_sheet)[-1]
    assert isinstance(flagged, FundsMismatchDetected)
    assert (flagged.reason_code, flagged.expected_fen, flagged.received_fen) == (
        "sheet_arithmetic",
        OLD_TOTAL,
        OLD_TOTAL,
    )
    assert "its own periods give individual 480000 + pooled 720000" in flagged.reason


def test_a_sheet_listing_months_paid_here_is_flagged() -> None:
    periods = (*OLD, month("2026-02"))
    with_sheet = fold([*apply(), *sheet(letter_sent(), periods=periods, individual_fen=520_000, pooled_fen=780_000)])
    flagged = funds(with_sheet, 1_300_000)[-1]
    assert isinstance(flagged, FundsMismatchDetected) and flagged.reason_code == "overlap"
    assert "2026-02" in flagged.reason


def test_sheet_and_funds_answer_an_open_case_only() -> None:
    with pytest.raises(CaseNotFoundError):
        funds(TransferIn())
    with pytest.raises(NotAwaitingTransferError, match="refused"):
        sheet(fold(apply(is_pensioner=True)))
    with pytest.raises(NotAwaitingTransferError, match="temporary account"):
        funds(fold(apply(birth=date(1960, 1, 1))))
    with pytest.raises(NotAwaitingTransferError, match="no contact letter"):
        funds(fold(apply()[:1]))


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(InvalidAmountError):
        funds(letter_sent(), -1)
    with pytest.raises(InvalidAmountError):
        sheet(letter_sent(), pooled_fen=-5)


# Stages and deadlines


def test_open_stage_progression() -> None:
    applied, letter = apply()
    first_sheet = sheet(letter_sent())
    history: list[Event] = []
    assert open_stage(fold(history)) is None
    history.append(applied)
    assert open_stage(fold(history)) is Stage.REVIEW
    history.append(letter)
    assert open_stage(fold(history)) is Stage.OLD_AGENCY
    history.extend(first_sheet)
    assert open_stage(fold(history)) is Stage.OLD_AGENCY
    history.extend(funds(fold(history)))
    assert open_stage(fold(history)) is None


def test_stage_started_at() -> None:
    state = fold([*apply(), *sheet(letter_sent())])
    assert stage_started_at(state, Stage.REVIEW) == NOW
    assert stage_started_at(state, Stage.OLD_AGENCY) == NOW
    assert stage_started_at(state, Stage.NEW_AGENCY) is None
    later = LATER + timedelta(days=1)
    both = fold([*apply(), *sheet(letter_sent()), FundsReceived(case_id=CASE, amount_fen=1, reference="r", at=later)])
    assert stage_started_at(both, Stage.NEW_AGENCY) == later


def test_a_deadline_is_breached_once_per_open_stage() -> None:
    due = NOW + timedelta(days=21)
    state = letter_sent()
    breach = decide_deadline(state, stage=Stage.OLD_AGENCY, due_at=due, now=due)
    assert breach == [StageDeadlineBreached(case_id=CASE, stage=Stage.OLD_AGENCY, due_at=due, at=due)]
    breached = fold([*apply(), *breach])
    assert breached.breached == frozenset({Stage.OLD_AGENCY})
    assert decide_deadline(breached, stage=Stage.OLD_AGENCY, due_at=due, now=due + timedelta(days=1)) == []


def test_a_deadline_for_a_stage_not_open_or_not_yet_due_yields_nothing() -> None:
    due = NOW + timedelta(days=21)
    state = letter_sent()
    assert decide_deadline(state, stage=Stage.REVIEW, due_at=due, now=due) == []  # the letter went out
    assert decide_deadline(state, stage=Stage.NEW_AGENCY, due_at=due, now=due) == []  # not begun
    assert decide_deadline(state, stage=Stage.OLD_AGENCY, due_at=due, now=due - timedelta(seconds=1)) == []
    assert decide_deadline(TransferIn(), stage=Stage.REVIEW, due_at=due, now=due) == []
    review = fold(apply()[:1])
    assert [type(e) for e in decide_deadline(review, stage=Stage.REVIEW, due_at=due, now=due)] == [
        StageDeadlineBreached
    ]


def test_no_deadline_is_breached_after_completion_or_refusal() -> None:
    due = NOW + timedelta(days=60)
    with_sheet = fold([*apply(), *sheet(letter_sent())])
    done = fold([*apply(), *sheet(letter_sent()), *funds(with_sheet)])
    refused = fold(apply(is_pensioner=True))
    for state in (done, refused):
        for stage in Stage:
            assert decide_deadline(state, stage=stage, due_at=due, now=due) == []


def test_the_new_agency_stage_can_be_breached_while_a_mismatch_is_held() -> None:
    due = LATER + timedelta(days=21)
    with_sheet = fold([*apply(), *sheet(letter_sent())])
    held = fold([*apply(), *sheet(letter_sent()), *funds(with_sheet, 1)])
    assert [type(e) for e in decide_deadline(held, stage=Stage.NEW_AGENCY, due_at=due, now=due)] == [
        StageDeadlineBreached
    ]
