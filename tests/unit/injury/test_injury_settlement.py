"""Settling an encounter: through the network, held as self-pay then re-settled, reversed, retried."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from injury.domain import agreement, determination
from injury.domain.catalogue import CatalogueItem, build_catalogue
from injury.domain.determination import Determination
from injury.domain.errors import (
    AgreementNotActiveError,
    DeterminationMismatchError,
    EmptySettlementError,
    InvalidDateError,
    NotHeldError,
    NotRecognisedError,
    SettlementConflictError,
    SettlementNotFoundError,
    SettlementRejectedError,
    TotalMismatchError,
)
from injury.domain.events import (
    Event,
    LinesRejected,
    SettlementHeldAsSelfPay,
    SettlementPosted,
    SettlementResettled,
    SettlementReversed,
)
from injury.domain.settlement import (
    Settlement,
    decide_reject,
    decide_resettle,
    decide_reverse,
    decide_settle,
    fold,
    settlement_stream,
)
from injury.domain.values import (
    Applicant,
    Category,
    DeterminationStatus,
    HoldReason,
    InstitutionKind,
    ItemKind,
    LineRejection,
    PostedLine,
    Posting,
    RejectionReason,
    SettlementStatus,
)

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=20)
CITIZEN = "11010519800101001X"
SERVICE_DAY = date(2026, 3, 1)

CATALOGUE = build_catalogue(
    "360100",
    [
        CatalogueItem(
            code="XA02BCA011",
            name="奥美拉唑",
            kind=ItemKind.DRUG,
            category=Category.CLASS_A,
            unit="粒",
            price_fen=65,
            valid_from=date(2024, 1, 1),
        ),
        CatalogueItem(
            code="110900001",
            name="床位费",
            kind=ItemKind.SERVICE,
            category=Category.CLASS_A,
            unit="日",
            price_fen=4_500,
            valid_from=date(2024, 1, 1),
        ),
        CatalogueItem(
            code="XD11AXX999",
            name="祛疤凝胶",
            kind=ItemKind.DRUG,
            category=Category.OUT_OF_CATALOGUE,
            unit="支",
            price_fen=16_800,
            valid_from=date(2024, 1, 1),
        ),
    ],
)
AGREEMENT = agreement.fold(
    agreement.decide_sign(
        agreement.Agreement(),
        hospital_id="H1",
        name="南昌大学第一附属医院",
        region="360100",
        kind=InstitutionKind.HOSPITAL,
        signed_on=date(2025, 12, 1),
        valid_from=date(2026, 1, 1),
        valid_to=date(2027, 12, 31),
        now=NOW,
    )
)
LINES = (
    PostedLine(line_no=1, item_code="XA02BCA011", quantity=Decimal(14), unit_price_fen=80, amount_fen=1_120),
    PostedLine(line_no=2, item_code="110900001", quantity=Decimal(3), unit_price_fen=5_000, amount_fen=15_000),
    PostedLine(line_no=3, item_code="XD11AXX999", quantity=Decimal(1), unit_price_fen=16_800, amount_fen=16_800),
)
TOTAL, FUND = 32_920, 14 * 65 + 3 * 4_500  # 910 + 13,500 = 14,410
POSTING = Posting(
    hospital_id="H1",
    hospital_settlement_no="JS-0001",
    citizen_id=CITIZEN,
    determination_ref="D-1",
    service_date=SERVICE_DAY,
    lines=LINES,
    declared_total_fen=TOTAL,
)


def the_determination(*, decided: bool = True) -> Determination:
    events = determination.decide_apply(
        Determination(),
        determination_id="D-1",
        citizen_id=CITIZEN,
        employer_id="",
        region="360100",
        injury_date=date(2026, 2, 20),
        applicant=Applicant.EMPLOYER,
        now=NOW,
        today=date(2026, 3, 2),
    )
    events += determination.decide_accept(determination.fold(events), facts_clear=True, now=NOW)
    if decided:
        events += determination.decide_recognise(determination.fold(events), now=LATER)
    return determination.fold(events)


NOTHING = Settlement()


def settle(state: Settlement = NOTHING, posting: Posting = POSTING, found: Determination | None = None) -> list[Event]:
    return decide_settle(state, posting=posting, agreement=AGREEMENT, catalogue=CATALOGUE, determination=found, now=NOW)


def test_with_a_recognised_determination_the_network_pays_its_share() -> None:
    events = settle(found=the_determination())
    assert len(events) == 1
    posted = events[0]
    assert isinstance(posted, SettlementPosted)
    assert (posted.total_fen, posted.fund_fen, posted.self_pay_fen) == (TOTAL, FUND, TOTAL - FUND)
    assert (posted.hospital_id, posted.region, posted.service_date) == ("H1", "360100", SERVICE_DAY)
    assert [(ln.fund_fen, ln.self_pay_fen) for ln in posted.lines] == [(910, 210), (13_500, 1_500), (0, 16_800)]
    assert all(ln.fund_fen + ln.self_pay_fen == ln.amount_fen for ln in posted.lines)
    state = fold(events)
    assert (state.status, state.fund_fen, state.determination_id) == (SettlementStatus.SETTLED, FUND, "D-1")
    assert settlement_stream("H1", "JS-0001") == "settlement-H1-JS-0001"


@pytest.mark.parametrize(
    ("found", "reason"),
    [
        (None, HoldReason.NO_DETERMINATION),
        (the_determination(decided=False), HoldReason.PENDING),
    ],
)
def test_without_a_recognition_the_worker_pays_all_until_resettled(
    found: Determination | None, reason: HoldReason
) -> None:
    held = settle(found=found)
    assert [type(e) for e in held] == [SettlementHeldAsSelfPay]
    assert isinstance(held[0], SettlementHeldAsSelfPay) and held[0].reason is reason
    state = fold(held)
    assert (state.status, state.fund_fen, state.self_pay_fen) == (SettlementStatus.HELD, 0, TOTAL)
    with pytest.raises(NotRecognisedError):
        decide_resettle(state, determination=the_determination(decided=False), now=LATER)
    resettled = decide_resettle(state, determination=the_determination(), now=LATER)
    assert resettled == [
        SettlementResettled(
            hospital_id="H1",
            region="360100",
            hospital_settlement_no="JS-0001",
            citizen_id=CITIZEN,
            determination_id="D-1",
            service_date=SERVICE_DAY,
            total_fen=TOTAL,
            fund_fen=FUND,
            self_pay_fen=TOTAL - FUND,
            at=LATER,
        )
    ]
    after = fold([*held, *resettled])
    assert (after.status, after.fund_fen, after.self_pay_fen) == (SettlementStatus.RESETTLED, FUND, TOTAL - FUND)
    assert decide_resettle(after, determination=the_determination(), now=LATER) == []
    assert settle(after, found=the_determination()) == []  # the original retry still answers the first result


def test_a_worker_without_a_reference_is_resettled_under_the_later_determination() -> None:
    held = settle(posting=replace(POSTING, determination_ref=""), found=the_determination())
    assert isinstance(held[0], SettlementHeldAsSelfPay) and held[0].reason is HoldReason.NO_DETERMINATION
    resettled = decide_resettle(fold(held), determination=the_determination(), now=LATER)
    assert isinstance(resettled[0], SettlementResettled) and resettled[0].determination_id == "D-1"
    with pytest.raises(DeterminationMismatchError):
        other = replace(the_determination(), citizen_id="110105198001010028")
        decide_resettle(fold(held), determination=other, now=LATER)


def test_a_denied_determination_keeps_the_settlement_self_pay() -> None:
    state = the_determination(decided=False)
    denied = replace(state, status=DeterminationStatus.DENIED)
    held = settle(found=denied)
    assert isinstance(held[0], SettlementHeldAsSelfPay) and held[0].reason is HoldReason.NOT_RECOGNISED


def test_the_same_number_posted_again_identically_has_no_second_effect() -> None:
    events = settle(found=the_determination())
    state = fold(events)
    assert settle(state, found=the_determination()) == []
    assert settle(state, POSTING, None) == []  # content decides, not what is known now


def test_the_same_number_with_different_content_is_a_conflict() -> None:
    state = fold(settle(found=the_determination()))
    changed = replace(POSTING, lines=LINES[:2], declared_total_fen=16_120)
    with pytest.raises(SettlementConflictError, match="JS-0001"):
        settle(state, changed)
    with pytest.raises(SettlementConflictError):
        settle(state, replace(POSTING, service_date=date(2026, 3, 2)))


def test_a_reversal_undoes_the_settlement_and_a_corrected_encounter_is_a_new_number() -> None:
    events = settle(found=the_determination())
    reversed_ = decide_reverse(fold(events), reason="wrong patient record", now=LATER)
    assert reversed_ == [
        SettlementReversed(
            hospital_id="H1",
            region="360100",
            hospital_settlement_no="JS-0001",
            service_date=SERVICE_DAY,
            total_fen=TOTAL,
            fund_fen=FUND,
            self_pay_fen=TOTAL - FUND,
            reason="wrong patient record",
            at=LATER,
        )
    ]
    state = fold([*events, *reversed_])
    assert state.status is SettlementStatus.REVERSED and state.reversal_reason == "wrong patient record"
    assert decide_reverse(state, reason="again", now=LATER) == []
    assert settle(state, found=the_determination()) == []  # a late retry of the original: no second posting
    with pytest.raises(SettlementConflictError, match="new number"):
        settle(state, replace(POSTING, lines=LINES[:2], declared_total_fen=16_120))
    with pytest.raises(NotHeldError, match="reversed"):
        decide_resettle(state, determination=the_determination(), now=LATER)
    corrected = replace(POSTING, hospital_settlement_no="JS-0002", lines=LINES[:2], declared_total_fen=16_120)
    again = settle(NOTHING, corrected, the_determination())
    assert isinstance(again[0], SettlementPosted) and again[0].fund_fen == FUND


def test_a_held_settlement_can_be_reversed_at_its_self_pay_amounts() -> None:
    state = fold(settle())
    reversal = decide_reverse(state, reason="discharged in error", now=LATER)
    assert isinstance(reversal[0], SettlementReversed)
    assert (reversal[0].fund_fen, reversal[0].self_pay_fen) == (0, TOTAL)


def test_nothing_to_resettle_or_reverse_without_a_settlement() -> None:
    with pytest.raises(SettlementNotFoundError):
        decide_resettle(Settlement(), determination=the_determination(), now=LATER)
    with pytest.raises(SettlementNotFoundError):
        decide_reverse(Settlement(), reason="r", now=LATER)


def test_lines_that_cannot_be_priced_are_named_and_recorded_by_reason() -> None:
    bad = replace(
        POSTING,
        lines=(
            LINES[0],
            PostedLine(line_no=2, item_code="NOPE", quantity=Decimal(1), unit_price_fen=100, amount_fen=100),
            PostedLine(line_no=3, item_code="110900001", quantity=Decimal(-1), unit_price_fen=100, amount_fen=100),
        ),
    )
    with pytest.raises(SettlementRejectedError, match=r"line 2 \(NOPE\).*line 3 \(110900001\)") as refused:
        settle(posting=bad)
    assert [r.reason for r in refused.value.rejections] == [
        RejectionReason.UNKNOWN_ITEM,
        RejectionReason.INVALID_QUANTITY,
    ]
    recorded = decide_reject(Settlement(), posting=bad, rejections=refused.value.rejections, region="360100", now=NOW)
    assert recorded == [
        LinesRejected(
            hospital_id="H1",
            region="360100",
            hospital_settlement_no="JS-0001",
            service_date=SERVICE_DAY,
            rejections=refused.value.rejections,
            at=NOW,
        )
    ]
    after = fold(recorded)
    assert (after.status, after.rejected_postings) == (SettlementStatus.NONE, 1)
    assert isinstance(settle(after, found=the_determination())[0], SettlementPosted)  # the number stays free
    taken = fold(settle(found=the_determination()))
    rejection = LineRejection(line_no=2, item_code="NOPE", reason=RejectionReason.UNKNOWN_ITEM)
    assert decide_reject(taken, posting=bad, rejections=(rejection,), region="360100", now=NOW) == []


def test_the_declared_total_must_be_the_sum_of_the_lines() -> None:
    with pytest.raises(TotalMismatchError, match="32921 fen but its lines sum to 32920"):
        settle(posting=replace(POSTING, declared_total_fen=TOTAL + 1))
    with pytest.raises(EmptySettlementError):
        settle(posting=replace(POSTING, lines=(), declared_total_fen=0))


@pytest.mark.parametrize("service_date", [date(2025, 12, 31), date(2028, 1, 1)])
def test_only_an_agreement_active_on_the_service_date_settles(service_date: date) -> None:
    with pytest.raises(AgreementNotActiveError, match="not_covered"):
        settle(posting=replace(POSTING, service_date=service_date))


def test_another_hospitals_agreement_does_not_count() -> None:
    with pytest.raises(AgreementNotActiveError, match="H9"):
        settle(posting=replace(POSTING, hospital_id="H9"))


def test_the_determination_must_be_the_workers_own_and_precede_the_service() -> None:
    with pytest.raises(DeterminationMismatchError, match="another person"):
        settle(posting=replace(POSTING, citizen_id="110105198001010028"), found=the_determination())
    with pytest.raises(DeterminationMismatchError):
        settle(posting=replace(POSTING, determination_ref="D-2"), found=the_determination())
    with pytest.raises(InvalidDateError, match="before the injury"):
        settle(posting=replace(POSTING, service_date=date(2026, 2, 1)), found=the_determination())
