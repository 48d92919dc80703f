"""Public events of the wage-arrears service, version 1. No citizen ID numbers leave the service."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class LeadReceivedV1(_Event):
    """A complaint became a lead (counted as a service handled, by channel)."""

    lead_id: str
    channel: str
    received_by: str
    division_code: str
    industry_code: str
    workers: int
    claimed_fen: int
    at: AwareDatetime


class ArrearsStepV1(_Event):
    """One step of a lead or case: reported again, routed, accepted, refused, filed, ordered, paid, ..."""

    subject_id: str
    step: str
    district: str | None = None
    amount_fen: int | None = None
    detail: str | None = None
    at: AwareDatetime


class CaseClosedV1(_Event):
    case_id: str
    district: str
    outcome: str
    claimed_fen: int
    paid_fen: int
    at: AwareDatetime


class SupervisionV1(_Event):
    """督办 opened (city) or escalated (province) on a lead or case past its limit."""

    subject_id: str
    stage: str
    district: str
    level: str
    supervisor: str
    at: AwareDatetime
