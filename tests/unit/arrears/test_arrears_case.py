"""A case: filing, the extension, payments per worker, penalties, and the ways a case ends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from arrears.domain import case, lead
from arrears.domain.errors import (
    CaseNotFoundError,
    ExtensionError,
    InvalidAmountError,
    MissingValueError,
    OverpaymentError,
    UnknownPartyError,
    UnknownWorkerError,
    UnpaidWagesError,
    WrongStatusError,
)
from arrears.domain.events import (
    CaseClosed,
    CaseFiled,
    CaseTransferred,
    CaseWithdrawn,
    Event,
    InvestigationExtended,
    PenaltyImposed,
    SupervisionOpened,
    WagesPaid,
)
from arrears.domain.orders import decide_record_payment
from arrears.domain.values import CaseStatus, Channel, Level, Outcome, Stage, TransferTarget, WorkerClaim
from tests.unit.arrears.examples import (
    CASE_ID,
    CLAIMED,
    EMPLOYER,
    LATER,
    LEAD_ID,
    LI,
    NANSHAN,
    NOW,
    PERIOD,
    PROJECT,
    WANG,
    ZHANG,
    accepted,
    filed,
    in_full,
    paid,
    receive,
)


def pay(events: list[Event], *payments: tuple[str, int]) -> list[Event]:
    return decide_record_payment(
        case.fold(events), payer=EMPLOYER, payments=[paid(c, fen) for c, fen in payments], now=LATER
    )


def test_an_accepted_lead_files_its_case_the_same_day() -> None:
    (event,) = filed()
    assert event == CaseFiled(
        case_id=CASE_ID,
        lead_id=LEAD_ID,
        district=NANSHAN,
        channel=Channel.HOTLINE,
        industry_code="E4700",
        employer_code=EMPLOYER,
        employer_name="深圳市某建筑劳务有限公司",
        project=PROJECT,
        workers=(
            WorkerClaim(citizen_id=ZHANG, claimed_fen=680_000),
            WorkerClaim(citizen_id=LI, claimed_fen=1_250_000),
            WorkerClaim(citizen_id=WANG, claimed_fen=520_050),
        ),
        period_from=PERIOD[0],
        period_to=PERIOD[1],
        at=NOW,
    )
    state = case.fold([event])
    assert (state.status, state.claimed_fen, state.paid_fen, state.working_days) == (
        CaseStatus.INVESTIGATING,
        CLAIMED,
        0,
        60,
    )
    assert case.decide_file(state, lead=lead.fold(accepted()), now=LATER) == []  # filed once
    assert case.case_stream(CASE_ID) == "arrears-case-case-0001"


def test_only_an_accepted_lead_files_a_case() -> None:
    with pytest.raises(WrongStatusError, match="a case is filed from an accepted lead"):
        case.decide_file(case.Case(), lead=lead.fold(receive()), now=NOW)


def test_the_investigation_is_extended_once_with_approval() -> None:
    events = filed()
    extended = case.decide_extend(
        case.fold(events), approved_by="南山区人社局 局长", reason="涉及人数多、账目复杂", now=LATER
    )
    assert extended == [
        InvestigationExtended(
            case_id=CASE_ID, approved_by="南山区人社局 局长", reason="涉及人数多、账目复杂", working_days=30, at=LATER
        )
    ]
    state = case.fold([*events, *extended])
    assert state.working_days == 90 and state.extended
    with pytest.raises(ExtensionError, match="already extended once"):
        case.decide_extend(state, approved_by="局长", reason="again", now=LATER)
    with pytest.raises(MissingValueError, match="who approved"):
        case.decide_extend(case.fold(events), approved_by=" ", reason="r", now=LATER)


def test_no_extension_once_the_limit_has_passed() -> None:
    due = NOW + timedelta(days=90)
    breach = SupervisionOpened(
        subject_id=CASE_ID,
        stage=Stage.INVESTIGATION,
        district=NANSHAN,
        level=Level.CITY,
        supervisor="440300",
        due_at=due,
        at=due,
    )
    with pytest.raises(ExtensionError, match="under supervision"):
        case.decide_extend(case.fold([*filed(), breach]), approved_by="局长", reason="r", now=due)


def test_wages_are_paid_in_part_then_in_full_per_worker() -> None:
    events = filed()
    part = pay(events, (ZHANG, 300_000), (LI, 1_250_000))
    assert part == [
        WagesPaid(case_id=CASE_ID, payer=EMPLOYER, payments=(paid(ZHANG, 300_000), paid(LI, 1_250_000)), at=LATER)
    ]
    events += part
    state = case.fold(events)
    zhang = state.worker(ZHANG)
    assert zhang is not None and (zhang.claimed_fen, zhang.paid_fen, zhang.unpaid_fen) == (680_000, 300_000, 380_000)
    assert state.unpaid_fen == 380_000 + 520_050
    events += pay(events, (ZHANG, 380_000), (WANG.lower(), 520_050))
    assert case.fold(events).unpaid_fen == 0


def test_a_worker_is_never_paid_more_than_claimed() -> None:
    events = [*filed(), *pay(filed(), (ZHANG, 600_000))]
    with pytest.raises(OverpaymentError, match="at most 80000 fen"):
        pay(events, (ZHANG, 80_001))
    with pytest.raises(OverpaymentError):
        pay(events, (ZHANG, 50_000), (ZHANG, 50_000))  # two lines for one worker count together
    assert pay(events, (ZHANG, 80_000))


def test_payments_name_workers_of_the_case_and_positive_amounts() -> None:
    events = filed()
    with pytest.raises(UnknownWorkerError, match="110105"):
        pay(events, ("110105199203031111", 1_000))
    with pytest.raises(InvalidAmountError):
        pay(events, (ZHANG, 0))
    with pytest.raises(MissingValueError, match="payments"):
        pay(events)
    with pytest.raises(MissingValueError, match="payer"):
        decide_record_payment(case.fold(events), payer="", payments=[paid(ZHANG, 1)], now=LATER)


def test_a_case_cannot_close_while_wages_are_unpaid() -> None:
    events = [*filed(), *pay(filed(), (ZHANG, 680_000))]
    with pytest.raises(UnpaidWagesError, match="1770050 fen of the wages claimed are still unpaid") as raised:
        case.decide_close(case.fold(events), now=LATER)
    assert raised.value.unpaid_fen == 1_770_050


def test_paid_in_full_closes_the_case_with_its_figures() -> None:
    events = [*filed(), *pay(filed(), *((p.citizen_id, p.amount_fen) for p in in_full()))]
    closed = case.decide_close(case.fold(events), now=LATER)
    assert closed == [
        CaseClosed(
            case_id=CASE_ID,
            district=NANSHAN,
            outcome=Outcome.PAID_IN_FULL,
            reason="every worker was paid the wages claimed",
            claimed_fen=CLAIMED,
            paid_fen=CLAIMED,
            at=LATER,
        )
    ]
    state = case.fold([*events, *closed])
    assert (state.status, state.outcome, state.closed_at) == (CaseStatus.CLOSED, Outcome.PAID_IN_FULL, LATER)


def test_a_transfer_to_the_police_ends_the_case_unpaid_with_its_reason() -> None:
    events = [*filed(), *pay(filed(), (ZHANG, 100_000))]
    reason = "涉嫌拒不支付劳动报酬罪"
    ended = case.decide_transfer(
        case.fold(events), target=TransferTarget.POLICE, to="深圳市公安局南山分局", reason=reason, now=LATER
    )
    assert ended == [
        CaseTransferred(
            case_id=CASE_ID, target=TransferTarget.POLICE, to="深圳市公安局南山分局", reason=reason, at=LATER
        ),
        CaseClosed(
            case_id=CASE_ID,
            district=NANSHAN,
            outcome=Outcome.TRANSFERRED,
            reason=reason,
            claimed_fen=CLAIMED,
            paid_fen=100_000,
            at=LATER,
        ),
    ]
    state = case.fold([*events, *ended])
    assert (state.status, state.transfer_target, state.transferred_to) == (
        CaseStatus.CLOSED,
        TransferTarget.POLICE,
        "深圳市公安局南山分局",
    )
    with pytest.raises(MissingValueError, match="reason for the transfer"):
        case.decide_transfer(case.fold(events), target=TransferTarget.DEPARTMENT, to="住建局", reason=" ", now=LATER)


def test_a_withdrawal_needs_a_reason() -> None:
    state = case.fold(filed())
    with pytest.raises(MissingValueError, match="reason for withdrawing"):
        case.decide_withdraw(state, reason="", now=LATER)
    ended = case.decide_withdraw(state, reason="劳动者撤回投诉，双方已和解", now=LATER)
    assert [type(e) for e in ended] == [CaseWithdrawn, CaseClosed]
    closed = ended[1]
    assert isinstance(closed, CaseClosed) and closed.outcome is Outcome.WITHDRAWN and closed.paid_fen == 0


def test_a_closed_case_takes_no_more_commands() -> None:
    events = filed()
    events += case.decide_withdraw(case.fold(events), reason="撤诉", now=LATER)
    state = case.fold(events)
    with pytest.raises(WrongStatusError, match="case case-0001 is closed: cannot record a payment"):
        pay(events, (ZHANG, 1))
    with pytest.raises(WrongStatusError, match="cannot close the case"):
        case.decide_close(state, now=LATER)
    with pytest.raises(WrongStatusError, match="cannot transfer the case"):
        case.decide_transfer(state, target=TransferTarget.POLICE, to="公安", reason="r", now=LATER)
    with pytest.raises(CaseNotFoundError):
        case.decide_close(case.Case(), now=LATER)


def test_a_penalty_falls_on_a_party_of_the_case() -> None:
    state = case.fold(filed())
    imposed = case.decide_impose_penalty(
        state, party=EMPLOYER.lower(), amount_fen=2_000_000, reason="拒不配合调查", now=LATER
    )
    assert imposed == [
        PenaltyImposed(case_id=CASE_ID, party=EMPLOYER, amount_fen=2_000_000, reason="拒不配合调查", at=LATER)
    ]
    assert case.fold([*filed(), *imposed]).penalties_fen == 2_000_000
    with pytest.raises(UnknownPartyError, match="not a party"):
        case.decide_impose_penalty(state, party="91110000000000000X", amount_fen=1, reason="r", now=LATER)
    with pytest.raises(InvalidAmountError):
        case.decide_impose_penalty(state, party=EMPLOYER, amount_fen=0, reason="r", now=LATER)


def test_a_worker_sees_their_own_case() -> None:
    events = [*filed(), *pay(filed(), (WANG, 20_050))]
    mine = case.fold(events).worker(WANG.lower())
    assert mine is not None and (mine.claimed_fen, mine.paid_fen, mine.unpaid_fen) == (520_050, 20_050, 500_000)
    assert case.fold(events).worker("110105199203031111") is None
