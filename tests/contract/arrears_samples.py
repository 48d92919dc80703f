"""A sample of every wage-arrears contract, for the schema, round-trip and extra-field tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from pydantic import BaseModel

from contracts.arrears import commands as ac
from contracts.arrears import events as ae

CITIZEN = "11010519491231002X"
CREDIT_CODE = "91350100M000100Y43"
AT = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
LEAD = "0123456789abcdef"
CASE = "0b8f6c1e-3a5d-5f1e-9c2b-1d4e5f6a7b8c"
PAYMENTS = [ac.WorkerPaymentV1(citizen_id=CITIZEN, amount_fen=680_000)]

ARREARS_SAMPLES: dict[type[BaseModel], Callable[[], BaseModel]] = {
    ac.ReceiveComplaint: lambda: ac.ReceiveComplaint(
        received_by="360111",
        employer_credit_code=CREDIT_CODE,
        employer_name="南昌某建筑劳务有限公司",
        division_code="360102",
        industry_code="E4700",
        workers=[ac.WorkerClaimV1(citizen_id=CITIZEN, claimed_fen=680_000)],
        period_from=date(2024, 11, 1),
        period_to=date(2025, 1, 31),
        project=ac.ProjectV1(name="某安置房项目", general_contractor_code=CREDIT_CODE),
        summary="三个月工资未发",
    ),
    ac.RouteLead: lambda: ac.RouteLead(lead_id=LEAD, to_district="360113", reason="项目工地在红谷滩区"),
    ac.AcceptComplaint: lambda: ac.AcceptComplaint(lead_id=LEAD),
    ac.RefuseComplaint: lambda: ac.RefuseComplaint(lead_id=LEAD, reason=ac.RefusalReason.NOT_WAGE_MATTER),
    ac.ExtendInvestigation: lambda: ac.ExtendInvestigation(case_id=CASE, approved_by="局长", reason="复杂"),
    ac.OrderPayment: lambda: ac.OrderPayment(case_id=CASE, liable_party=CREDIT_CODE, due_on=date(2025, 3, 28)),
    ac.RecordWagesPaid: lambda: ac.RecordWagesPaid(case_id=CASE, payer=CREDIT_CODE, payments=PAYMENTS),
    ac.RecordGeneralContractorPayment: lambda: ac.RecordGeneralContractorPayment(
        case_id=CASE, order_id="order-1", payments=PAYMENTS
    ),
    ac.ImposePenalty: lambda: ac.ImposePenalty(case_id=CASE, party=CREDIT_CODE, amount_fen=2_000_000, reason="r"),
    ac.OrderAdditionalCompensation: lambda: ac.OrderAdditionalCompensation(
        case_id=CASE, order_id="order-1", rate=Decimal("0.75")
    ),
    ac.TransferCase: lambda: ac.TransferCase(
        case_id=CASE, target=ac.TransferTarget.POLICE, to="公安分局", reason="拒不支付劳动报酬"
    ),
    ac.WithdrawCase: lambda: ac.WithdrawCase(case_id=CASE, reason="和解"),
    ac.CloseCase: lambda: ac.CloseCase(case_id=CASE),
    ac.DisputeCase: lambda: ac.DisputeCase(case_id=CASE, citizen_id=CITIZEN),
    ac.RecordReview: lambda: ac.RecordReview(case_id=CASE, passed=True, reviewer="陈某", findings="已到账"),
    ac.GetLead: lambda: ac.GetLead(lead_id=LEAD),
    ac.GetCase: lambda: ac.GetCase(case_id=CASE, citizen_id=CITIZEN),
    ac.MyArrears: lambda: ac.MyArrears(citizen_id=CITIZEN),
    ac.ListDistrictCases: lambda: ac.ListDistrictCases(district="360102"),
    ac.ListSupervised: lambda: ac.ListSupervised(supervisor="360100", level=ac.SupervisionLevel.CITY),
    ac.ArrearsFigures: lambda: ac.ArrearsFigures(first=date(2025, 1, 1), last=date(2025, 12, 31)),
    ae.LeadReceivedV1: lambda: ae.LeadReceivedV1(
        lead_id=LEAD,
        channel="hotline",
        received_by="360111",
        division_code="360102",
        industry_code="E4700",
        workers=3,
        claimed_fen=2_450_050,
        at=AT,
    ),
    ae.ArrearsStepV1: lambda: ae.ArrearsStepV1(
        subject_id=CASE, step="wages_paid", district="360102", amount_fen=680_000, at=AT
    ),
    ae.CaseClosedV1: lambda: ae.CaseClosedV1(
        case_id=CASE, district="360102", outcome="paid_in_full", claimed_fen=1, paid_fen=1, at=AT
    ),
    ae.SupervisionV1: lambda: ae.SupervisionV1(
        subject_id=LEAD, stage="acceptance", district="360102", level="city", supervisor="360100", at=AT
    ),
}
