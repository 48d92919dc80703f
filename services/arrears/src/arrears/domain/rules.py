"""Rules of intake and of the case that need no state: deduplication, the two-year limit, complaint
validation, additional compensation and the review sample."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from arrears.domain.errors import (
    FutureDateError,
    InvalidAmountError,
    InvalidDateError,
    InvalidPercentError,
    InvalidRateError,
    MissingValueError,
    WorkersError,
)
from arrears.domain.values import WorkerClaim, masked, normal_id, round_fen

MIN_COMPENSATION_RATE = Decimal("0.5")
MAX_COMPENSATION_RATE = Decimal("1.0")
LIMITATION_YEARS = 2


def lead_key(*, employer_code: str, citizen_ids: Sequence[str], period_from: date, period_to: date) -> str:
    """The deduplication key of a complaint (sha256, 64 hex digits), used as the lead id.

    The same employer (unified social credit code), the same set of workers (citizen ids) and the
    same wage period make one lead, whatever the channel, district, order or letter case the
    workers were listed in: codes are trimmed and upper-cased, ids deduplicated and sorted.
    """
    employer = employer_code.strip().upper()
    workers = sorted({normal_id(c) for c in citizen_ids if c.strip()})
    if not employer:
        raise MissingValueError("the employer's unified social credit code")
    if not workers:
        raise WorkersError("a complaint names at least one worker owed wages")
    text = "\n".join([employer, ",".join(workers), f"{period_from.isoformat()}/{period_to.isoformat()}"])
    return hashlib.sha256(text.encode()).hexdigest()


def limitation_start(complained_on: date) -> date:
    """The same calendar day two years before the complaint (29 February counts from 28 February)."""
    try:
        return complained_on.replace(year=complained_on.year - LIMITATION_YEARS)
    except ValueError:
        return complained_on.replace(year=complained_on.year - LIMITATION_YEARS, day=28)


def limitation_expired(*, last_day: date, complained_on: date) -> bool:
    """Art. 20: a violation whose last day is more than two years before the complaint is no longer pursued.

    The last day is the end of the wage period claimed; exactly two years before still counts.
    """
    return last_day < limitation_start(complained_on)


def check_complaint(*, workers: Sequence[WorkerClaim], period_from: date, period_to: date, today: date) -> None:
    """At least one worker, each listed once with a claim of whole fen above zero; a wage period that
    reads forwards and has ended by today (Beijing)."""
    if not workers:
        raise WorkersError("a complaint names at least one worker owed wages")
    seen: set[str] = set()
    for worker in workers:
        citizen_id = normal_id(worker.citizen_id)
        if not citizen_id:
            raise MissingValueError("a worker's citizen id")
        if citizen_id in seen:
            raise WorkersError(f"worker {masked(citizen_id)} is listed twice: list each worker once with one claim")
        seen.add(citizen_id)
        if worker.claimed_fen <= 0:
            raise InvalidAmountError(f"the wages claimed for worker {masked(citizen_id)}", worker.claimed_fen)
    if period_from > period_to:
        raise InvalidDateError(f"the wage period starts on {period_from}, after its end {period_to}")
    if period_to > today:
        raise FutureDateError("the wage period's end", period_to, today)


def additional_compensation_fen(unpaid_fen: int, rate: Decimal) -> int:
    """加付赔偿金 (art. 26): 50%-100% of the wages unpaid at the order's due date, half-up to the fen.

    Example: 1,234,567 fen unpaid at 0.75 -> 925,925.25 -> 925,925 fen.
    """
    if not MIN_COMPENSATION_RATE <= rate <= MAX_COMPENSATION_RATE:
        raise InvalidRateError(rate)
    return round_fen(Decimal(unpaid_fen) * rate)


def review_sampled(case_id: str, sample_percent: int) -> bool:
    """Whether a closed case falls in the review sample: sha256 of its id, mod 100, below the percent.

    Deterministic (the same case is always in or out at a given percent) and spread evenly over ids.
    """
    if not 0 <= sample_percent <= 100:
        raise InvalidPercentError(sample_percent)
    digest = hashlib.sha256(case_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < sample_percent
