"""A sample of every work-injury contract, for the schema, round-trip and extra-field tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from pydantic import BaseModel

from contracts.injury import commands as ic
from contracts.injury import events as ie

CITIZEN = "11010519491231002X"
AT = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
DAY = date(2025, 3, 13)
SETTLEMENT = {"hospital_id": "H36001", "hospital_settlement_no": "JS-2025-0001"}
AMOUNTS = {"total_fen": 19653, "fund_fen": 2553, "self_pay_fen": 17100}
LINE = ic.SettlementLineV1(
    line_no=1, item_code="XJ01DCC040", quantity=Decimal("1.5"), unit_price_fen=150, amount_fen=225
)

INJURY_SAMPLES: dict[type[BaseModel], Callable[[], BaseModel]] = {
    ic.SignAgreement: lambda: ic.SignAgreement(
        hospital_id="H36001",
        name="南昌大学第一附属医院",
        signed_on=date(2024, 12, 20),
        valid_from=date(2025, 1, 1),
        valid_to=date(2027, 12, 31),
    ),
    ic.SuspendAgreement: lambda: ic.SuspendAgreement(hospital_id="H36001", effective_from=DAY, reason="违规结算"),
    ic.ReinstateAgreement: lambda: ic.ReinstateAgreement(hospital_id="H36001", effective_from=DAY),
    ic.TerminateAgreement: lambda: ic.TerminateAgreement(hospital_id="H36001", effective_from=DAY, reason="协议期满"),
    ic.ListAgreements: lambda: ic.ListAgreements(on=DAY),
    ic.ApplyForDetermination: lambda: ic.ApplyForDetermination(
        determination_id="RD-2025-0001", citizen_id=CITIZEN, employer_id="91350100M000100Y43", injury_date=DAY
    ),
    ic.AcceptDetermination: lambda: ic.AcceptDetermination(determination_id="RD-2025-0001", facts_clear=True),
    ic.DecideDetermination: lambda: ic.DecideDetermination(determination_id="RD-2025-0001", outcome="recognised"),
    ic.GetDetermination: lambda: ic.GetDetermination(determination_id="RD-2025-0001"),
    ic.PublishCatalogueVersions: lambda: ic.PublishCatalogueVersions(
        items=[
            ic.CatalogueItemV1(
                code="XJ01CAA040",
                name="阿莫西林胶囊 0.25g",
                kind="drug",
                category="class_a",
                unit="粒",
                price_fen=30,
                valid_from=date(2025, 6, 1),
            )
        ]
    ),
    ic.GetCatalogueItem: lambda: ic.GetCatalogueItem(code="XJ01CAA040"),
    ic.PostSettlement: lambda: ic.PostSettlement(
        **SETTLEMENT,
        citizen_id=CITIZEN,
        determination_ref="RD-2025-0001",
        service_date=DAY,
        lines=[LINE],
        declared_total_fen=225,
    ),
    ic.ReverseSettlement: lambda: ic.ReverseSettlement(**SETTLEMENT, reason="重复结算"),
    ic.ResettleSettlement: lambda: ic.ResettleSettlement(**SETTLEMENT, determination_id="RD-2025-0001"),
    ic.GetSettlement: lambda: ic.GetSettlement(**SETTLEMENT),
    ic.ListPersonSettlements: lambda: ic.ListPersonSettlements(person_ref="0123456789abcdef"),
    ic.DeclareDayTotals: lambda: ic.DeclareDayTotals(
        hospital_id="H36001", day=DAY, count=1, total_fen=225, fund_fen=225
    ),
    ic.ListReconciliations: lambda: ic.ListReconciliations(day=DAY, mismatched_only=True),
    ic.InjuryFigures: lambda: ic.InjuryFigures(first=date(2025, 1, 1), last=date(2025, 12, 31)),
    ie.SettlementPostedV1: lambda: ie.SettlementPostedV1(
        settlement_id="settlement-H36001-JS-2025-0001",
        **SETTLEMENT,
        region="36",
        service_date=DAY,
        status="settled",
        **AMOUNTS,
        at=AT,
    ),
    ie.SettlementResettledV1: lambda: ie.SettlementResettledV1(
        settlement_id="settlement-H36001-JS-2025-0001",
        **SETTLEMENT,
        region="36",
        determination_id="RD-2025-0001",
        service_date=DAY,
        **AMOUNTS,
        at=AT,
    ),
    ie.SettlementReversedV1: lambda: ie.SettlementReversedV1(
        settlement_id="settlement-H36001-JS-2025-0001",
        **SETTLEMENT,
        region="36",
        service_date=DAY,
        **AMOUNTS,
        reason="重复结算",
        at=AT,
    ),
    ie.DeterminationDecidedV1: lambda: ie.DeterminationDecidedV1(
        determination_id="RD-2025-0001", region="36", outcome="recognised", at=AT
    ),
}
