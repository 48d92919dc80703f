"""Public events of the enrolment service, version 1. A breaking change is a new class and subject."""

from __future__ import annotations

from datetime import date

from pydantic import AwareDatetime, BaseModel, ConfigDict


class EmployerRegisteredV1(BaseModel):
    """An employer became insured with the agency of its county."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    employer_id: str
    credit_code: str
    name: str
    division_code: str
    industry_code: str
    established_on: date
    route: str
    registered_at: AwareDatetime
