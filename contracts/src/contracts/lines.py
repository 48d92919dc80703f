"""Messages with a line each for several people or steps, joined per decision.

A decision that would publish several messages differing only in their lines (a payroll's month,
a line per person; a transfer's steps taken at once, a line per step) publishes one: the recorder
(`runtime.recording`) joins the messages of one decision with the same `merge_key`, lines in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict


class LinesMessage(BaseModel):
    """A message whose field named by `LINES` holds its lines; every other field is its `merge_key`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    LINES: ClassVar[str] = "lines"

    def merge_key(self) -> tuple[object, ...]:
        return tuple(value for name, value in self if name != self.LINES)

    @classmethod
    def merged(cls, parts: Sequence[Self]) -> Self:
        lines = [line for part in parts for line in getattr(part, cls.LINES)]
        return parts[0].model_copy(update={cls.LINES: lines})
