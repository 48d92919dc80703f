"""Contribution histories written straight into the transfer services' history tables (what the
enrolment events would have written), for tests and benches about the transfer path itself."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from contracts.identifiers import citizen_id_check_character, pseudonym

MONTHS = tuple(f"2024-{m:02d}" for m in range(1, 13))
HISTORY = (
    "person_ref",
    "employer_credit_code",
    "month",
    "citizen_id",
    "base_fen",
    "employer_rate",
    "account_fen",
    "paid",
)
BASE_FEN = 800_000
ACCOUNT_FEN = 64_000  # 8% of the base


def young_citizen(i: int) -> str:
    """Born in 1990 in Nanchang (hukou 36: no temporary-account rule), distinct for i < 9 * 28 * 1000."""
    body = f"36010219900{1 + (i // 28_000) % 9}{1 + (i // 1000) % 28:02d}{i % 1000:03d}"
    return body + citizen_id_check_character(body)


async def seed_transfer_histories(old: Any, new: Any, people: list[str], salt: bytes) -> None:
    """`old` (an asyncpg connection or pool of the old region's transfer database): a year of 2024
    paid; `new`: enrolled since 2026-10 with that month paid."""
    refs = [(pseudonym(p, salt=salt), p) for p in people]
    rate = Decimal("0.16")
    await old.copy_records_to_table(
        "history",
        records=[(r, "91440604MA4W0XC02", m, p, BASE_FEN, rate, ACCOUNT_FEN, True) for r, p in refs for m in MONTHS],
        columns=HISTORY,
    )
    await new.copy_records_to_table(
        "history",
        records=[(r, "91360102MA35L0XC0", "2026-10", p, BASE_FEN, rate, ACCOUNT_FEN, True) for r, p in refs],
        columns=HISTORY,
    )
    await new.copy_records_to_table(
        "employments",
        records=[(r, "91360102MA35L0XC0", ["pension"], date(2026, 10, 1)) for r, _ in refs],
        columns=("person_ref", "employer_credit_code", "schemes", "hired_on"),
    )
