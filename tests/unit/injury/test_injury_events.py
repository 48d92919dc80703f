"""The stored form of every injury event, and each aggregate ignoring the others' events."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from injury.domain import agreement, catalogue, determination, settlement
from injury.domain import events as e
from injury.domain.values import (
    Applicant,
    Category,
    DeterminationStage,
    HoldReason,
    InstitutionKind,
    ItemKind,
    LineRejection,
    PricedLine,
    RejectionReason,
)
from runtime.serialization import from_json, to_json

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
DAY = date(2026, 3, 1)
LINE = PricedLine(
    line_no=1,
    item_code="XA02BCA011",
    kind=ItemKind.DRUG,
    category=Category.CLASS_A,
    catalogue_version=2,
    catalogue_price_fen=65,
    quantity=Decimal("1.5"),
    unit_price_fen=80,
    amount_fen=120,
    fund_fen=98,
    self_pay_fen=22,
)
REJECTION = LineRejection(line_no=2, item_code="NOPE", reason=RejectionReason.UNKNOWN_ITEM)

DETERMINATION: list[e.Event] = [
    e.DeterminationApplied(
        determination_id="D",
        citizen_id="x",
        employer_id="u",
        region="360100",
        injury_date=DAY,
        applicant=Applicant.WORKER,
        at=NOW,
    ),
    e.DeterminationAccepted(determination_id="D", facts_clear=True, at=NOW),
    e.DeterminationRecognised(determination_id="D", citizen_id="x", region="360100", at=NOW),
    e.DeterminationDenied(determination_id="D", citizen_id="x", region="360100", reason="why", at=NOW),
    e.DeterminationDeadlineBreached(determination_id="D", stage=DeterminationStage.DECISION, due_at=NOW, at=NOW),
]
AGREEMENT: list[e.Event] = [
    e.AgreementSigned(
        hospital_id="H",
        name="n",
        region="360100",
        kind=InstitutionKind.REHABILITATION,
        signed_on=DAY,
        valid_from=DAY,
        valid_to=date(2027, 2, 28),
        at=NOW,
    ),
    e.AgreementSuspended(hospital_id="H", effective_from=DAY, reason="why", at=NOW),
    e.AgreementReinstated(hospital_id="H", effective_from=date(2026, 4, 1), at=NOW),
    e.AgreementTerminated(hospital_id="H", effective_from=date(2026, 5, 1), reason="why", at=NOW),
]
CATALOGUE: list[e.Event] = [
    e.CatalogueVersionPublished(
        region="360100",
        code="XA02BCA011",
        name="奥美拉唑",
        kind=ItemKind.DRUG,
        category=Category.CLASS_A,
        unit="粒",
        price_fen=65,
        valid_from=DAY,
        valid_to=None,
        version=2,
        at=NOW,
    ),
]
SETTLEMENT: list[e.Event] = [
    e.SettlementPosted(
        hospital_id="H",
        region="360100",
        hospital_settlement_no="JS",
        citizen_id="x",
        determination_ref="D",
        service_date=DAY,
        lines=(LINE,),
        total_fen=120,
        fund_fen=98,
        self_pay_fen=22,
        at=NOW,
    ),
    e.SettlementHeldAsSelfPay(
        hospital_id="H",
        region="360100",
        hospital_settlement_no="JS",
        citizen_id="x",
        determination_ref="",
        service_date=DAY,
        lines=(LINE,),
        total_fen=120,
        reason=HoldReason.PENDING,
        at=NOW,
    ),
    e.SettlementResettled(
        hospital_id="H",
        region="360100",
        hospital_settlement_no="JS",
        citizen_id="x",
        determination_id="D",
        service_date=DAY,
        total_fen=120,
        fund_fen=98,
        self_pay_fen=22,
        at=NOW,
    ),
    e.SettlementReversed(
        hospital_id="H",
        region="360100",
        hospital_settlement_no="JS",
        service_date=DAY,
        total_fen=120,
        fund_fen=98,
        self_pay_fen=22,
        reason="why",
        at=NOW,
    ),
    e.LinesRejected(
        hospital_id="H", region="360100", hospital_settlement_no="JS", service_date=DAY, rejections=(REJECTION,), at=NOW
    ),
]
SAMPLES = [*DETERMINATION, *AGREEMENT, *CATALOGUE, *SETTLEMENT]


def test_every_event_type_has_a_sample() -> None:
    assert {type(s) for s in SAMPLES} == set(e.EVENT_TYPES)
    assert len(e.EVENT_TYPES) == len(set(e.EVENT_TYPES))


@pytest.mark.parametrize("event", SAMPLES, ids=lambda ev: type(ev).__name__)
def test_stored_json_rebuilds_the_event_exactly(event: e.Event) -> None:
    stored = json.loads(json.dumps(to_json(event)))
    assert from_json(type(event), stored) == event


def test_events_and_lines_are_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        LINE.fund_fen = 0  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        SAMPLES[0].at = NOW  # type: ignore[misc]


def stored(events: list[e.Event]) -> list[e.Event]:
    return [from_json(type(event), json.loads(json.dumps(to_json(event)))) for event in events]


def test_a_fold_survives_the_stored_round_trip() -> None:
    assert determination.fold(stored(DETERMINATION[:3])) == determination.fold(DETERMINATION[:3])
    assert agreement.fold(stored(AGREEMENT)) == agreement.fold(AGREEMENT)
    assert catalogue.fold(stored(CATALOGUE)) == catalogue.fold(CATALOGUE)
    held_then_resettled = [SETTLEMENT[1], SETTLEMENT[2]]
    assert settlement.fold(stored(held_then_resettled)) == settlement.fold(held_then_resettled)


def test_each_aggregate_ignores_the_others_events() -> None:
    assert determination.fold([*DETERMINATION[:1], *AGREEMENT, *CATALOGUE, *SETTLEMENT]) == determination.fold(
        DETERMINATION[:1]
    )
    assert agreement.fold([*AGREEMENT[:1], *DETERMINATION, *CATALOGUE, *SETTLEMENT]) == agreement.fold(AGREEMENT[:1])
    assert catalogue.fold([*CATALOGUE, *DETERMINATION, *AGREEMENT, *SETTLEMENT]) == catalogue.fold(CATALOGUE)
    assert settlement.fold([*SETTLEMENT[:1], *DETERMINATION, *AGREEMENT, *CATALOGUE]) == settlement.fold(SETTLEMENT[:1])
    state = catalogue.Catalogue()
    for event in [*DETERMINATION, *AGREEMENT, *SETTLEMENT]:
        assert catalogue.evolve(state, event) is state
