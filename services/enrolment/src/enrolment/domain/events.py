"""Private, stored facts of the enrolment service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class EmployerRegistered:
    credit_code: str
    name: str
    division_code: str
    industry_code: str
    established_on: date
    route: str
    registered_at: datetime


Event = EmployerRegistered
