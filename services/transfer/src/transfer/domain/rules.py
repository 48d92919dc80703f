"""Rules deciding what transfers: who may apply, back payments, overlapping months, the age rule."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date

from transfer.domain.errors import InvalidPeriodError
from transfer.domain.values import Period, Sex, is_month, province_of

BACK_PAYMENT_MONTHS = 36  # a lump-sum back payment of 3 years or more needs documents to transfer
MALE_AGE = 50
FEMALE_AGE = 40


def application_refusal(
    *,
    from_region: str,
    to_region: str,
    enrolled_here: bool,
    contributing_here: bool,
    is_pensioner: bool,
    overlap: tuple[str, ...],
) -> tuple[str, str] | None:
    """The first rule an application fails, as (code, reason told to the applicant), or None.

    In order: a pension already paid ("pensioner"); not enrolled and contributing at the new
    place ("not_enrolled_here", 国办发〔2009〕66号); months paid in both places ("overlap").
    Two places in one province are not refused: their accounts are merged (`within_one_province`).
    """
    if is_pensioner:
        return "pensioner", (
            "you already draw a basic pension: a pension relationship is transferred only before pension "
            "age, never once a pension is paid"
        )
    if not (enrolled_here and contributing_here):
        missing = "enrolled" if not enrolled_here else "contributing"
        return "not_enrolled_here", (
            f"you are not yet {missing} in {to_region}: apply to the new place once your new employer has "
            "enrolled you there and contributions have started (国办发〔2009〕66号)"
        )
    if overlap:
        return "overlap", (
            f"months {', '.join(overlap)} were paid both in {from_region} and in {to_region}: duplicate "
            "months (重复缴费) must be settled with the two agencies before a transfer"
        )
    return None


def within_one_province(from_region: str, to_region: str) -> bool:
    """Intra-province moves need no cross-province transfer: the province pools its records (domain.md 1.7)."""
    return province_of(from_region) == province_of(to_region)


def back_payment_exclusions(periods: Iterable[Period]) -> tuple[tuple[Period, ...], tuple[Period, ...]]:
    """Split periods into (transferable, returned) (人社厅发〔2019〕94号).

    A lump-sum back payment (一次性补缴) covering 36 months (3 years) or more transfers only for the
    months backed by legal documents or a written commitment (`documented`); its other months and
    their money are returned to the place where the back payment was made. Months not paid in a
    back payment, smaller batches, and documented months transfer. Order is kept.
    """
    listed = tuple(periods)
    months_in_batch: dict[str, set[str]] = defaultdict(set)
    for p in listed:
        if p.back_payment_batch is not None:
            months_in_batch[p.back_payment_batch].add(p.month)

    def returned(p: Period) -> bool:
        batch = p.back_payment_batch
        return batch is not None and len(months_in_batch[batch]) >= BACK_PAYMENT_MONTHS and not p.documented

    return tuple(p for p in listed if not returned(p)), tuple(p for p in listed if returned(p))


def overlapping_months(old: Iterable[Period], new: Iterable[Period]) -> tuple[str, ...]:
    """The months contributed in both places (重复缴费), sorted; none means no overlap."""
    return tuple(sorted({p.month for p in old} & {p.month for p in new}))


def age_on(birth: date, today: date) -> int:
    """Completed years of age on `today` (a birthday counts on the day itself; 29 Feb on 1 Mar)."""
    before_birthday = (today.month, today.day) < (birth.month, birth.day)
    return today.year - birth.year - int(before_birthday)


def needs_temporary_account(
    *, sex: Sex, age: int, hukou_province: str, to_region: str, organisational_transfer: bool
) -> bool:
    """The age rule (国办发〔2009〕66号 art. 6): a man of 50 or more, or a woman of 40 or more, moving to
    work in a province other than the household-registration (户籍) province keeps the relationship
    where it is; the new place opens a temporary contribution account instead of a transfer.

    Exempt: returning to the hukou province, and a transfer approved by a Party organisation or HRSS
    department at county level or above (组织调动). Provinces compare by GB/T 2260 province code.
    """
    if organisational_transfer or province_of(hukou_province) == province_of(to_region):
        return False
    return age >= (MALE_AGE if sex == Sex.MALE else FEMALE_AGE)


def check_periods(periods: Sequence[Period]) -> None:
    """Refuse periods the formulas cannot use: a month not "YYYY-MM", a negative base or account
    amount, a rate outside 0-100%, or one month listed twice (it would count twice)."""
    seen: set[str] = set()
    for p in periods:
        if not is_month(p.month):
            raise InvalidPeriodError(f"month {p.month!r} is not a calendar month written as YYYY-MM")
        if p.base_fen < 0 or p.account_fen < 0:
            raise InvalidPeriodError(f"month {p.month} has a negative base or individual-account amount")
        if not 0 <= p.employer_rate < 1:
            raise InvalidPeriodError(f"month {p.month} has employer rate {p.employer_rate}, not between 0 and 100%")
        if p.month in seen:
            raise InvalidPeriodError(f"month {p.month} is listed twice: each contribution month is listed once")
        seen.add(p.month)


def check_months(months: Iterable[str]) -> tuple[str, ...]:
    """The months sorted without repeats, each a "YYYY-MM" calendar month."""
    listed = tuple(sorted(set(months)))
    for month in listed:
        if not is_month(month):
            raise InvalidPeriodError(f"month {month!r} is not a calendar month written as YYYY-MM")
    return listed
