"""Public events of the work-injury service, version 1. A breaking change is a new class and subject.

They carry no citizen ID number: a settlement is named by its hospital and number.
"""

from __future__ import annotations

from datetime import date

from pydantic import AwareDatetime, BaseModel, ConfigDict


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class SettlementPostedV1(_Event):
    """An encounter settled: through the network (`settled`) or held as self-pay (`held`, fund 0)."""

    settlement_id: str
    hospital_id: str
    hospital_settlement_no: str
    region: str
    service_date: date
    status: str
    hold_reason: str | None = None
    total_fen: int
    fund_fen: int
    self_pay_fen: int
    at: AwareDatetime


class SettlementResettledV1(_Event):
    """A held settlement re-settled through the network after a late determination (补结算)."""

    settlement_id: str
    hospital_id: str
    hospital_settlement_no: str
    region: str
    determination_id: str
    service_date: date
    total_fen: int
    fund_fen: int
    self_pay_fen: int
    at: AwareDatetime


class SettlementReversedV1(_Event):
    settlement_id: str
    hospital_id: str
    hospital_settlement_no: str
    region: str
    service_date: date
    total_fen: int
    fund_fen: int
    self_pay_fen: int
    reason: str
    at: AwareDatetime


class DeterminationDecidedV1(_Event):
    """A determination decided: `recognised` (认定工伤) or `denied` (不予认定)."""

    determination_id: str
    region: str
    outcome: str
    at: AwareDatetime
