"""Rules of a wage-arrears lead or case that a command can break; each message says which rule and why.

These are commands that cannot be carried out (bad input, wrong moment). A refused *complaint* is
not an error: it is a fact (ComplaintRefused) the complainant is told in writing and that is counted.
Citizen ids appear in messages masked only.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal


class ArrearsError(Exception):
    """A command refused by a wage-arrears rule."""


class MissingValueError(ArrearsError):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is required and was empty")


class InvalidAmountError(ArrearsError):
    def __init__(self, what: str, amount_fen: int) -> None:
        super().__init__(f"{what} must be a whole number of fen above zero, got {amount_fen}")


class InvalidDateError(ArrearsError):
    def __init__(self, why: str) -> None:
        super().__init__(why)


class FutureDateError(InvalidDateError):
    def __init__(self, what: str, day: date, today: date) -> None:
        super().__init__(f"{what} {day} is after today {today} (Beijing): wages cannot be owed for days to come")


class InvalidCodeError(ArrearsError):
    def __init__(self, what: str, code: str, why: str) -> None:
        super().__init__(f"{what} {code!r} {why}")


class WorkersError(ArrearsError):
    """The workers of a complaint: at least one, each listed once."""

    def __init__(self, why: str) -> None:
        super().__init__(why)


class UnknownWorkerError(ArrearsError):
    def __init__(self, citizen_id: str, subject: str) -> None:
        super().__init__(f"worker {citizen_id} is not among the workers of {subject}")


class LeadNotFoundError(ArrearsError):
    def __init__(self) -> None:
        super().__init__("no lead is recorded under this id: a lead starts with a complaint received")


class CaseNotFoundError(ArrearsError):
    def __init__(self) -> None:
        super().__init__("no case is filed under this id: a case is filed when its complaint is accepted")


class WrongStatusError(ArrearsError):
    """The command does not fit where the lead or case stands."""

    def __init__(self, subject: str, status: str, action: str, rule: str) -> None:
        self.status = status
        super().__init__(f"{subject} is {status}: cannot {action}; {rule}")


class UnknownDistrictError(ArrearsError):
    def __init__(self, district: str) -> None:
        super().__init__(
            f"district {district!r} is not a district of this region: a lead is routed only to a district "
            "(6-digit GB/T 2260 code not ending in 00) the region knows"
        )


class RoutingError(ArrearsError):
    def __init__(self, why: str) -> None:
        super().__init__(why)


class LimitationExpiredError(ArrearsError):
    def __init__(self, last_day: date, complained_on: date) -> None:
        super().__init__(
            f"the wages claimed end on {last_day}, more than two years before the complaint of {complained_on}: "
            "labour inspection no longer pursues the violation (劳动保障监察条例 art. 20); refuse it as "
            "past_two_year_limit"
        )


class RefusalNotApplicableError(ArrearsError):
    def __init__(self, reason: str, why: str) -> None:
        super().__init__(f"refusal reason {reason} does not apply: {why}")


class ExtensionError(ArrearsError):
    def __init__(self, why: str) -> None:
        super().__init__(
            f"the investigation cannot be extended: {why} (60 working days, once +30 with approval, art. 17)"
        )


class OverpaymentError(ArrearsError):
    def __init__(self, citizen_id: str, claimed_fen: int, paid_fen: int, amount_fen: int) -> None:
        super().__init__(
            f"worker {citizen_id} claimed {claimed_fen} fen and has {paid_fen} fen paid: a further {amount_fen} fen "
            f"would pay more than claimed; at most {claimed_fen - paid_fen} fen can still be recorded"
        )


class UnpaidWagesError(ArrearsError):
    def __init__(self, unpaid_fen: int) -> None:
        self.unpaid_fen = unpaid_fen
        super().__init__(
            f"{unpaid_fen} fen of the wages claimed are still unpaid: a case closes as paid in full only when "
            "every worker is paid what they claimed; otherwise it ends by transfer or withdrawal with a reason"
        )


class UnknownPartyError(ArrearsError):
    def __init__(self, party: str, case_id: str) -> None:
        super().__init__(
            f"{party!r} is not a party of case {case_id}: orders and penalties fall on the employer or, in "
            "construction, on the general contractor or subcontractor"
        )


class OrderError(ArrearsError):
    """A payment order (责令支付) command that does not fit the order."""

    def __init__(self, why: str) -> None:
        super().__init__(why)


class InvalidRateError(ArrearsError):
    def __init__(self, rate: Decimal) -> None:
        super().__init__(
            f"additional compensation rate {rate} is outside 0.5-1.0: it is 50% to 100% of the wages still "
            "owed at the order's due date (劳动保障监察条例 art. 26)"
        )


class NotConstructionError(ArrearsError):
    def __init__(self, why: str) -> None:
        super().__init__(f"the general contractor pays first (先行清偿) only in a construction case: {why}")


class InvalidPercentError(ArrearsError):
    def __init__(self, percent: int) -> None:
        super().__init__(f"sample percent {percent} is outside 0-100")


class ReviewError(ArrearsError):
    def __init__(self, why: str) -> None:
        super().__init__(f"the review (复查) cannot be recorded: {why}")
