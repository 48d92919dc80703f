"""Private enrolment events -> public contracts (one small function per event)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import assert_never

from contracts.enrolment.events import EmployerRegisteredV1
from enrolment.domain.events import EmployerRegistered, Event
from runtime.recording import Published


def to_public(event: Event, stream_id: str) -> Sequence[Published]:
    match event:
        case EmployerRegistered():
            return [
                Published(
                    "employer_registered",
                    EmployerRegisteredV1(
                        employer_id=stream_id,
                        credit_code=event.credit_code,
                        name=event.name,
                        division_code=event.division_code,
                        industry_code=event.industry_code,
                        established_on=event.established_on,
                        route=event.route,
                        registered_at=event.registered_at,
                    ),
                )
            ]
        case _:
            assert_never(event)
