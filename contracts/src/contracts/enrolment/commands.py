"""Commands the enrolment service accepts. Unknown fields are refused."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from contracts.identifiers import CreditCode, DivisionCode

INDUSTRY_CODE = r"^[A-T][0-9]{2,4}$"


class RegisterEmployer(BaseModel):
    """Register an employer at a counter (manual registration, 单位参保登记)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    credit_code: CreditCode = Field(
        description="Unified social credit code (统一社会信用代码), check character verified."
    )
    name: str = Field(min_length=2, max_length=200, description="Registered name of the employer.")
    division_code: DivisionCode = Field(description="County-level GB/T 2260 code of the employer's address.")
    industry_code: str = Field(pattern=INDUSTRY_CODE, description="GB/T 4754 industry code, e.g. `C1310` or `I65`.")
    established_on: date = Field(description="Date the employer was established (start of the 30-day limit).")


class GetEmployer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    credit_code: str = Field(min_length=18, max_length=18)
