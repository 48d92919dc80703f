"""The stored form of every wage-arrears event, folding round trips, and each aggregate ignoring the other's events."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from arrears.domain import case, lead, orders, review
from arrears.domain import events as e
from arrears.domain.values import (
    Channel,
    Level,
    Outcome,
    RefusalReason,
    ReviewReason,
    Stage,
    TransferTarget,
    WorkerClaim,
    WorkerPayment,
)
from runtime.serialization import from_json, to_json
from tests.unit.arrears.examples import CASE_ID, EMPLOYER, GENERAL, LATER, NOW, PROJECT, ZHANG, filed, in_full, receive

AT = datetime(2026, 3, 14, 2, 0, tzinfo=UTC)
CLAIMS = (WorkerClaim(citizen_id=ZHANG, claimed_fen=680_000),)
PAID = (WorkerPayment(citizen_id=ZHANG, amount_fen=680_000),)

LEAD_SAMPLES: list[e.Event] = [
    e.LeadReceived(
        lead_id="l",
        channel=Channel.PLATFORM,
        received_by="440304",
        employer_code=EMPLOYER,
        employer_name="某公司",
        division_code="440305",
        industry_code="4700",
        project=PROJECT,
        workers=CLAIMS,
        period_from=date(2025, 11, 1),
        period_to=date(2026, 1, 31),
        summary="欠薪",
        at=AT,
    ),
    e.LeadReportedAgain(lead_id="l", channel=Channel.COUNTER, received_by="440306", at=AT),
    e.LeadRouted(lead_id="l", from_district="440304", to_district="440305", reason="r", at=AT),
    e.ComplaintAccepted(lead_id="l", case_id="c", district="440305", at=AT),
    e.ComplaintRefused(
        lead_id="l", district="440305", reason_code=RefusalReason.NOT_WAGE_MATTER, explanation="x", at=AT
    ),
]
CASE_SAMPLES: list[e.Event] = [
    e.CaseFiled(
        case_id="c",
        lead_id="l",
        district="440305",
        channel=Channel.WEB,
        industry_code="E4700",
        employer_code=EMPLOYER,
        employer_name="某公司",
        project=None,
        workers=CLAIMS,
        period_from=date(2025, 11, 1),
        period_to=date(2026, 1, 31),
        at=AT,
    ),
    e.InvestigationExtended(case_id="c", approved_by="局长", reason="复杂", working_days=30, at=AT),
    e.PaymentOrdered(
        case_id="c", order_id="o", liable_party=EMPLOYER, amount_fen=680_000, due_on=date(2026, 3, 27), at=AT
    ),
    e.PaymentOrderComplied(case_id="c", order_id="o", at=AT),
    e.PaymentOrderDefaulted(case_id="c", order_id="o", liable_party=EMPLOYER, unpaid_fen=680_000, at=AT),
    e.WagesPaid(case_id="c", payer=EMPLOYER, payments=PAID, at=AT),
    e.GeneralContractorPaidFirst(
        case_id="c", order_id="o", general_contractor=GENERAL, liable_party=EMPLOYER, payments=PAID, at=AT
    ),
    e.PenaltyImposed(case_id="c", party=EMPLOYER, amount_fen=2_000_000, reason="r", at=AT),
    e.AdditionalCompensationOrdered(
        case_id="c",
        order_id="o",
        liable_party=EMPLOYER,
        unpaid_fen=680_000,
        rate=Decimal("0.75"),
        amount_fen=510_000,
        at=AT,
    ),
    e.CaseTransferred(case_id="c", target=TransferTarget.POLICE, to="公安分局", reason="r", at=AT),
    e.CaseWithdrawn(case_id="c", reason="r", at=AT),
    e.CaseClosed(
        case_id="c", district="440305", outcome=Outcome.PAID_IN_FULL, reason="r", claimed_fen=1, paid_fen=1, at=AT
    ),
    e.ReviewScheduled(case_id="c", reason=ReviewReason.DISPUTE, disputed_by=ZHANG, at=AT),
    e.ReviewPassed(case_id="c", reviewer="r", findings="f", at=AT),
    e.ReviewFailed(case_id="c", reviewer="r", findings="f", not_received=PAID, at=AT),
    e.CaseReopened(case_id="c", district="440305", reason="r", at=AT),
]
SUPERVISION_SAMPLES: list[e.Event] = [
    e.SupervisionOpened(
        subject_id="c",
        stage=Stage.INVESTIGATION,
        district="440305",
        level=Level.CITY,
        supervisor="440300",
        due_at=AT,
        at=AT,
    ),
    e.SupervisionEscalated(
        subject_id="c", stage=Stage.INVESTIGATION, district="440305", level=Level.PROVINCE, supervisor="440000", at=AT
    ),
]
SAMPLES = [*LEAD_SAMPLES, *CASE_SAMPLES, *SUPERVISION_SAMPLES]


def test_every_event_type_has_a_sample() -> None:
    assert {type(s) for s in SAMPLES} == set(e.EVENT_TYPES)
    assert len(e.EVENT_TYPES) == len(set(e.EVENT_TYPES))
    assert set(e.LEAD_EVENT_TYPES) | set(e.CASE_EVENT_TYPES) == set(e.EVENT_TYPES)
    assert set(e.LEAD_EVENT_TYPES) & set(e.CASE_EVENT_TYPES) == {e.SupervisionOpened, e.SupervisionEscalated}


@pytest.mark.parametrize("event", SAMPLES, ids=lambda ev: type(ev).__name__)
def test_stored_json_rebuilds_the_event_exactly(event: e.Event) -> None:
    stored = json.loads(json.dumps(to_json(event), ensure_ascii=False))
    assert from_json(type(event), stored) == event


def test_events_and_values_are_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        CASE_SAMPLES[0].case_id = "other"  # type: ignore[misc, union-attr]
    with pytest.raises(FrozenInstanceError):
        PAID[0].amount_fen = 1  # type: ignore[misc]


def test_the_lead_ignores_case_events_and_the_case_lead_events() -> None:
    assert lead.fold([*LEAD_SAMPLES[:1], *CASE_SAMPLES]) == lead.fold(LEAD_SAMPLES[:1])
    assert case.fold([*CASE_SAMPLES[:1], *LEAD_SAMPLES]) == case.fold(CASE_SAMPLES[:1])


def stored(events: list[e.Event]) -> list[e.Event]:
    """The events as the store gives them back: through JSON, rebuilt by type name."""
    by_name = {t.__name__: t for t in e.EVENT_TYPES}
    rows = [(type(ev).__name__, json.dumps(to_json(ev))) for ev in events]
    return [from_json(by_name[name], json.loads(data)) for name, data in rows]


def test_a_whole_case_folds_the_same_from_stored_events() -> None:
    lead_events = receive()
    lead_events += lead.decide_accept(lead.fold(lead_events), case_id=CASE_ID, now=NOW)
    case_events = filed()
    case_events += orders.decide_order_payment(
        case.fold(case_events), order_id="o", liable_party=EMPLOYER, due_on=date(2026, 3, 27), now=NOW
    )
    case_events += orders.decide_record_payment(case.fold(case_events), payer=GENERAL, payments=in_full(), now=NOW)
    case_events += case.decide_close(case.fold(case_events), now=LATER)
    case_events += review.decide_dispute(case.fold(case_events), citizen_id=ZHANG, now=LATER)
    case_events += review.decide_pass_review(case.fold(case_events), reviewer="陈某", findings="已核实", now=LATER)

    assert lead.fold(stored(lead_events)) == lead.fold(lead_events)
    assert case.fold(stored(case_events)) == case.fold(case_events)
    state = case.Case()
    for event in case_events:
        state = case.evolve(state, event)
    assert state == case.fold(case_events)
