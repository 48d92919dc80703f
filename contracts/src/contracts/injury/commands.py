"""Commands and queries the work-injury service accepts. Unknown fields are refused.

A command that names a hospital, settlement or determination in the gateway's path is built from
the path ids and a request body (`...Request`, `...V1`); the body holds everything else. The hospital
of a settlement is always the authenticated hospital, never a body field. Amounts, quantities and
line numbers are not range-checked here beyond sanity bounds: the service names the offending line
(`line 3 (XA02...): amount must be above zero fen`), which a field path cannot.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.identifiers import CitizenId

HospitalId = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9]{2,32}$", description="An agreement institution's code: letters and digits.")
]
SettlementNo = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9._:-]{1,64}$",
        description="The hospital's own settlement number: the idempotency key of a posting (a retry repeats it).",
    ),
]
DeterminationId = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$", description="The determination's reference (认定书编号).")
]
ItemCode = Annotated[str, Field(min_length=1, max_length=32, description="A catalogue item's code.")]
Reason = Annotated[str, Field(min_length=1, max_length=1000)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Fen = Annotated[int, Field(ge=-(10**12), le=10**12, description="An amount in fen (1/100 yuan).")]
Count = Annotated[int, Field(ge=0, le=10**9)]

InstitutionKind = Literal["hospital", "rehabilitation", "assistive_device"]
Applicant = Literal["employer", "worker", "relative", "trade_union"]
ItemKind = Literal["drug", "treatment", "service"]
Category = Literal["class_a", "class_b", "out_of_catalogue"]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


# Agreement institutions (协议机构)


class SignAgreement(_Command):
    """Sign an agreement term (a first agreement or a renewal) with an institution of this region."""

    hospital_id: HospitalId
    name: Name
    kind: InstitutionKind = "hospital"
    signed_on: date
    valid_from: date
    valid_to: date = Field(description="The last day of the term (included).")


class SuspendAgreementRequest(_Command):
    effective_from: date
    reason: Reason


class SuspendAgreement(SuspendAgreementRequest):
    """No settlement for service from `effective_from` until reinstated (a sanction for a breach)."""

    hospital_id: HospitalId


class ReinstateAgreementRequest(_Command):
    effective_from: date


class ReinstateAgreement(ReinstateAgreementRequest):
    hospital_id: HospitalId


class TerminateAgreementRequest(_Command):
    effective_from: date
    reason: Reason


class TerminateAgreement(TerminateAgreementRequest):
    """End the current term: no settlement for service on or after `effective_from`."""

    hospital_id: HospitalId


class ListAgreements(_Command):
    """The region's registry: every institution and its agreement status on a day (default today)."""

    on: date | None = None


# Determinations (工伤认定)


class ApplyForDetermination(_Command):
    """Record an application; the department must accept within 15 days (a durable timer starts)."""

    determination_id: DeterminationId
    citizen_id: CitizenId
    employer_id: str = Field(min_length=1, max_length=64, description="The employer's credit code or name.")
    injury_date: date
    applicant: Applicant = "employer"


class AcceptDeterminationRequest(_Command):
    facts_clear: bool = Field(default=False, description="Facts and rights clear: decided within 15 days, not 60.")


class AcceptDetermination(AcceptDeterminationRequest):
    determination_id: DeterminationId


class DecideDeterminationRequest(_Command):
    outcome: Literal["recognised", "denied"]
    reason: Reason | None = Field(default=None, description="Required when the injury is not recognised.")

    @model_validator(mode="after")
    def _denial_has_a_reason(self) -> DecideDeterminationRequest:
        if self.outcome == "denied" and not self.reason:
            raise ValueError("a decision not to recognise the injury states its reason")
        return self


class DecideDetermination(DecideDeterminationRequest):
    """Recognise the injury (held settlements are then re-settled through the network) or deny it."""

    determination_id: DeterminationId


class GetDetermination(_Command):
    determination_id: DeterminationId


# Catalogues


class CatalogueItemV1(_Command):
    """One version of one item; `valid_to` is its last valid day (None: open-ended)."""

    code: ItemCode
    name: Name
    kind: ItemKind
    category: Category
    unit: str = Field(min_length=1, max_length=20)
    price_fen: int = Field(ge=0, le=10**10)
    valid_from: date
    valid_to: date | None = None


class PublishCatalogueVersions(_Command):
    """New versions of items (a price or class change is a new version, never an edit of history)."""

    items: list[CatalogueItemV1] = Field(min_length=1, max_length=5000)


class GetCatalogueItem(_Command):
    code: ItemCode


# Settlements (联网结算)


class SettlementLineV1(_Command):
    """One line as posted: `amount_fen` must equal quantity x unit price, rounded half-up to the fen."""

    line_no: int = Field(ge=-(10**6), le=10**6)
    item_code: ItemCode
    quantity: Decimal = Field(max_digits=14, decimal_places=4)
    unit_price_fen: Fen
    amount_fen: Fen


class SettlementPostingV1(_Command):
    """An encounter as a hospital posts it (the body of the signed request)."""

    hospital_settlement_no: SettlementNo
    citizen_id: CitizenId
    determination_ref: str = Field(
        default="", pattern=r"^[A-Za-z0-9._-]{0,64}$", description="The worker's determination; empty if none shown."
    )
    service_date: date
    lines: list[SettlementLineV1] = Field(min_length=1, max_length=500)
    declared_total_fen: Fen


class PostSettlement(SettlementPostingV1):
    """Settle an encounter; the same number posted again returns the first result and pays nothing twice."""

    hospital_id: HospitalId


class ReverseSettlementRequest(_Command):
    reason: Reason


class ReverseSettlement(ReverseSettlementRequest):
    hospital_id: HospitalId
    hospital_settlement_no: SettlementNo


class ResettleSettlementRequest(_Command):
    determination_id: DeterminationId


class ResettleSettlement(ResettleSettlementRequest):
    """Re-settle a held settlement through the network under a recognised determination (补结算)."""

    hospital_id: HospitalId
    hospital_settlement_no: SettlementNo


class GetSettlement(_Command):
    hospital_id: HospitalId
    hospital_settlement_no: SettlementNo


class ListPersonSettlements(_Command):
    """A worker's own settlements, by the pseudonym of their ID number (never the number itself)."""

    person_ref: str = Field(pattern=r"^[0-9a-f]{16}$")
    limit: int = Field(default=100, ge=1, le=1000)


# Reconciliation (对账)


class DayTotalsV1(_Command):
    """A hospital's own totals for one day of service: settlements, their total and the fund's share."""

    day: date
    count: Count
    total_fen: Fen
    fund_fen: Fen


class DeclareDayTotals(DayTotalsV1):
    """Reconcile a hospital's day: its totals against the fund's settlements; each difference is flagged."""

    hospital_id: HospitalId


class ListReconciliations(_Command):
    day: date | None = None
    hospital_id: HospitalId | None = None
    mismatched_only: bool = False
    limit: int = Field(default=100, ge=1, le=1000)


class InjuryFigures(_Command):
    """Settlements by hospital, fund vs self-pay, re-settlements, rejected lines: service dates first..last."""

    first: date
    last: date
