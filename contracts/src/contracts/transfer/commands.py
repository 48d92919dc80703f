"""Commands and queries the transfer service accepts. Unknown fields are refused."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from contracts.identifiers import CitizenId, RegionCode


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class ApplyForTransfer(_Command):
    """A worker enrolled and contributing here asks to bring the pension from the old region (转入申请)."""

    citizen_id: CitizenId
    from_region: RegionCode = Field(description="The old pooling area (2-digit province code).")
    hukou_province: RegionCode | None = Field(
        default=None, description="Household-registration province; by default the first two digits of the ID number."
    )
    receiving_pension: bool = Field(default=False, description="Already drawing a pension (then no transfer).")
    organisational_transfer: bool = Field(default=False, description="Approved organisational transfer (组织调动).")


class GetTransfer(_Command):
    case_id: str = Field(min_length=8, max_length=64)


class ListTransfers(_Command):
    """Transfers on their path: all open ones, or only those at risk of or past three days."""

    at_risk_only: bool = True
    limit: int = Field(default=100, ge=1, le=1000)


class TransferFigures(_Command):
    first: date
    last: date
