"""The money a transfer moves: individual-account balance plus pooled-fund share (国办发〔2009〕66号).

Pooled share (统筹基金): 12% of the contribution bases actually contributed from 1998-01 on, summed
month by month (so a partial year counts by its months), rounded half-up to the fen once, at the
end. Special rates (人社部发〔2009〕187号): a temporary-account month counts at the employer's actual
rate when above 12%, else at 12%; a month insured as an individual (灵活就业) counts at 12% whatever
was paid. No interest is paid on the pooled share.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import assert_never

from transfer.domain.values import Period, PeriodKind, round_fen

POOLED_RATE = Decimal("0.12")
POOLING_FROM = "1998-01"


@dataclass(frozen=True, slots=True, kw_only=True)
class FundAmounts:
    individual_fen: int
    pooled_fen: int

    @property
    def total_fen(self) -> int:
        return self.individual_fen + self.pooled_fen


def pooled_rate(period: Period) -> Decimal:
    """The rate one month's base counts at: 12%, or max(employer rate, 12%) for a temporary account."""
    match period.kind:
        case PeriodKind.EMPLOYEE | PeriodKind.INDIVIDUAL:
            return POOLED_RATE
        case PeriodKind.TEMPORARY:
            return max(period.employer_rate, POOLED_RATE)
        case _:
            assert_never(period.kind)


def pooled_share_fen(periods: Iterable[Period]) -> int:
    """Σ base x rate over the months from 1998-01 on, rounded half-up to the fen once at the end.

    Example: 500,000 fen (5,000 yuan) a month for the 12 months of 2010 -> 720,000 fen (7,200 yuan).
    """
    exact = sum(
        (Decimal(p.base_fen) * pooled_rate(p) for p in periods if p.month >= POOLING_FROM),
        start=Decimal(0),
    )
    return round_fen(exact)


def individual_account_fen(periods: Iterable[Period]) -> int:
    """Σ of what each month put into the individual account, before 1998 included.

    Interest on the account is credited by the old agency's own system and is outside this model:
    the balance here is the principal the periods carry.
    """
    return sum(p.account_fen for p in periods)


def fund_amounts(periods: Iterable[Period]) -> FundAmounts:
    """Individual account and pooled share of the periods; the transfer amount is their total."""
    listed = tuple(periods)
    return FundAmounts(individual_fen=individual_account_fen(listed), pooled_fen=pooled_share_fen(listed))
