"""Commands and queries the wage-arrears service accepts. Unknown fields are refused.

A command that names a lead or case is built by the gateway from the path id and a request body
(`...Request`); the body holds everything else. Citizen ID numbers travel only in bodies.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.identifiers import CitizenId, CreditCode, DivisionCode

Fen = Annotated[int, Field(gt=0, le=10**12, description="Amount in fen (1/100 yuan), above zero.")]
IndustryCode = Annotated[
    str, Field(pattern=r"^[A-T][0-9]{2,4}$", description="GB/T 4754-2017 industry code, e.g. `E4700`.")
]
LeadId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$", description="A lead's id (derived from the complaint).")]
CaseId = Annotated[str, Field(min_length=8, max_length=64, description="A case's id, given when it was filed.")]
OrderId = Annotated[str, Field(min_length=1, max_length=64, description="A payment order's id in its case.")]
Reason = Annotated[str, Field(min_length=1, max_length=1000)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class RefusalReason(StrEnum):
    PAST_TWO_YEAR_LIMIT = "past_two_year_limit"
    NOT_WAGE_MATTER = "not_wage_matter"
    NOT_OUR_JURISDICTION = "not_our_jurisdiction"
    IN_ARBITRATION_OR_COURT = "in_arbitration_or_court"


class TransferTarget(StrEnum):
    DEPARTMENT = "department"
    POLICE = "police"


class SupervisionLevel(StrEnum):
    CITY = "city"
    PROVINCE = "province"


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class WorkerClaimV1(_Command):
    citizen_id: CitizenId
    claimed_fen: Fen = Field(description="Wages owed to this worker, in fen.")


class WorkerPaymentV1(_Command):
    citizen_id: CitizenId
    amount_fen: Fen


class ProjectV1(_Command):
    """A construction project: the general contractor (总包) pays first when the subcontractor defaults."""

    name: Name
    general_contractor_code: CreditCode
    subcontractor_code: CreditCode | None = None


class ReceiveComplaint(_Command):
    """A worker's complaint or lead (一点受理), from any channel at any district of the region.

    The same employer, workers and wage period reported again is counted on the same lead.
    """

    received_by: DivisionCode = Field(description="The intake point: the district (or city) where it came in.")
    employer_credit_code: CreditCode
    employer_name: Name
    division_code: DivisionCode = Field(description="Where the employer or the construction project is.")
    industry_code: IndustryCode
    workers: list[WorkerClaimV1] = Field(min_length=1, max_length=1000)
    period_from: date = Field(description="First day of the wage period claimed.")
    period_to: date = Field(description="Last day of the wage period claimed; not after today.")
    project: ProjectV1 | None = None
    summary: str = Field(default="", max_length=2000)


class RouteLeadRequest(_Command):
    to_district: DivisionCode
    reason: Reason


class RouteLead(RouteLeadRequest):
    """Pass a waiting lead on to another district of the region (流转), with the reason."""

    lead_id: LeadId


class AcceptComplaint(_Command):
    """The district the lead waits at accepts it: a case is filed the same day."""

    lead_id: LeadId


class RefuseComplaintRequest(_Command):
    reason: RefusalReason
    note: str = Field(default="", max_length=1000)


class RefuseComplaint(RefuseComplaintRequest):
    """The district refuses the complaint in writing, with the reason."""

    lead_id: LeadId


class ExtendInvestigationRequest(_Command):
    approved_by: Name
    reason: Reason


class ExtendInvestigation(ExtendInvestigationRequest):
    """+30 working days with the department head's approval, once."""

    case_id: CaseId


class OrderPaymentRequest(_Command):
    liable_party: CreditCode
    due_on: date


class OrderPayment(OrderPaymentRequest):
    """责令支付: the party pays every wage unpaid now by the end of `due_on`."""

    case_id: CaseId


class RecordWagesPaidRequest(_Command):
    payer: Name
    payments: list[WorkerPaymentV1] = Field(min_length=1, max_length=1000)


class RecordWagesPaid(RecordWagesPaidRequest):
    """Wages paid, in part or in full, per worker; never more than a worker claimed."""

    case_id: CaseId


class RecordGeneralContractorPaymentRequest(_Command):
    order_id: OrderId
    payments: list[WorkerPaymentV1] = Field(min_length=1, max_length=1000)


class RecordGeneralContractorPayment(RecordGeneralContractorPaymentRequest):
    """先行清偿: the general contractor pays for the subcontractor who defaulted on the order."""

    case_id: CaseId


class ImposePenaltyRequest(_Command):
    party: CreditCode
    amount_fen: Fen
    reason: Reason


class ImposePenalty(ImposePenaltyRequest):
    case_id: CaseId


class OrderAdditionalCompensationRequest(_Command):
    order_id: OrderId
    rate: Decimal = Field(ge=Decimal("0.5"), le=Decimal("1.0"), description="50%-100% of the wages unpaid at due.")


class OrderAdditionalCompensation(OrderAdditionalCompensationRequest):
    """加付赔偿金 for a payment order not obeyed."""

    case_id: CaseId


class TransferCaseRequest(_Command):
    target: TransferTarget
    to: Name = Field(description="The department or police office the case goes to.")
    reason: Reason


class TransferCase(TransferCaseRequest):
    """Transfer to another department or to the police (移送公安); the case ends here."""

    case_id: CaseId


class WithdrawCaseRequest(_Command):
    reason: Reason


class WithdrawCase(WithdrawCaseRequest):
    case_id: CaseId


class CloseCaseRequest(_Command):
    reason: str = Field(default="", max_length=1000)


class CloseCase(CloseCaseRequest):
    """结案 as paid in full: refused while wages claimed are unpaid."""

    case_id: CaseId


class DisputeCaseRequest(_Command):
    citizen_id: CitizenId | None = Field(default=None, description="The worker; a worker's own token names itself.")


class DisputeCase(_Command):
    """A worker says the wages of a closed case were not really paid: the case is reviewed (复查)."""

    case_id: CaseId
    citizen_id: CitizenId


class RecordReviewRequest(_Command):
    passed: bool
    reviewer: Name
    findings: str = Field(default="", max_length=2000)
    not_received: list[WorkerPaymentV1] = Field(
        default_factory=list, max_length=1000, description="Amounts recorded as paid that a worker did not get."
    )


class RecordReview(RecordReviewRequest):
    """The review's finding: passed, or failed (the case reopens)."""

    case_id: CaseId


class GetLead(_Command):
    lead_id: LeadId


class GetCase(_Command):
    """A case as operators see it; with `citizen_id`, as that worker sees it (other workers masked)."""

    case_id: CaseId
    citizen_id: CitizenId | None = None


class MyArrears(_Command):
    """The leads and cases a worker is among, other workers' ID numbers masked."""

    citizen_id: CitizenId


class ListDistrictCases(_Command):
    """A district's leads waiting for its answer and its cases (open ones, or all)."""

    district: DivisionCode
    open_only: bool = True
    limit: int = Field(default=100, ge=1, le=1000)


class ListSupervised(_Command):
    """Leads and cases under supervision (督办): by the supervising city or province, and level."""

    supervisor: DivisionCode | None = None
    level: SupervisionLevel | None = None
    limit: int = Field(default=100, ge=1, le=1000)


class ArrearsFigures(_Command):
    first: date
    last: date

    @model_validator(mode="after")
    def _ordered(self) -> ArrearsFigures:
        if self.last < self.first:
            raise ValueError("last must not be before first")
        return self
