"""Worked examples for the wage-arrears unit tests: a Shenzhen construction subcontractor owing three workers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from arrears.domain import case, lead
from arrears.domain.events import Event
from arrears.domain.values import Channel, Project, WorkerClaim, WorkerPayment

NOW = datetime(2026, 3, 16, 1, 0, tzinfo=UTC)  # Monday 09:00 in Beijing
LATER = NOW + timedelta(days=3)

NANSHAN, FUTIAN, BAOAN, LUOHU = "440305", "440304", "440306", "440303"
KNOWN = frozenset({NANSHAN, FUTIAN, BAOAN, LUOHU})

EMPLOYER = "91440300MA5G1XYZ2K"  # 深圳市某建筑劳务有限公司, the subcontractor
GENERAL = "91440300192194195C"  # the general contractor (总包)
PROJECT = Project(name="南山区某安置房项目", general_contractor_code=GENERAL, subcontractor_code=EMPLOYER)

ZHANG, LI, WANG = "440305199001011234", "44030519880202432X", "36010219950303567X"
WORKERS = (
    WorkerClaim(citizen_id=ZHANG, claimed_fen=680_000),  # 6,800 yuan
    WorkerClaim(citizen_id=LI, claimed_fen=1_250_000),
    WorkerClaim(citizen_id=WANG.lower(), claimed_fen=520_050),  # the check letter typed in lower case
)
CLAIMED = 680_000 + 1_250_000 + 520_050
PERIOD = (date(2025, 11, 1), date(2026, 1, 31))
LEAD_ID = "lead-0001"
CASE_ID = "case-0001"


def receive(state: lead.Lead | None = None, /, **changes: Any) -> list[Event]:
    """The workers complain by hotline at Futian about their employer in Nanshan."""
    given: dict[str, Any] = {
        "lead_id": LEAD_ID,
        "channel": Channel.HOTLINE,
        "received_by": FUTIAN,
        "employer_code": EMPLOYER,
        "employer_name": "深圳市某建筑劳务有限公司",
        "division_code": NANSHAN,
        "industry_code": "E4700",
        "workers": WORKERS,
        "period_from": PERIOD[0],
        "period_to": PERIOD[1],
        "known_districts": KNOWN,
        "now": NOW,
        "project": PROJECT,
        "summary": "三个月工资未发",
    }
    return lead.decide_receive(state or lead.Lead(), **{**given, **changes})


def accepted(**changes: Any) -> list[Event]:
    """Received, routed to Nanshan, accepted there: the lead's events."""
    received = receive(**changes)
    return [*received, *lead.decide_accept(lead.fold(received), case_id=CASE_ID, now=NOW)]


def filed(**changes: Any) -> list[Event]:
    """The case's first event, filed from the accepted lead."""
    return case.decide_file(case.Case(), lead=lead.fold(accepted(**changes)), now=NOW)


def paid(citizen_id: str, amount_fen: int) -> WorkerPayment:
    return WorkerPayment(citizen_id=citizen_id, amount_fen=amount_fen)


def in_full() -> tuple[WorkerPayment, ...]:
    return tuple(paid(w.citizen_id, w.claimed_fen) for w in WORKERS)
