"""Queries every service answers."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, model_validator


class HandledServices(BaseModel):
    """Services handled per day and channel between two dates (inclusive, Beijing time)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first: date
    last: date

    @model_validator(mode="after")
    def _ordered(self) -> HandledServices:
        if self.last < self.first:
            raise ValueError("last must not be before first")
        return self
