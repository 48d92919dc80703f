"""Rules of work-injury settlement that a command can break; each message says which rule and why.

These are commands that cannot be carried out (bad input, wrong moment). A settlement held as
self-pay for want of a determination is not an error: it is a fact (SettlementHeldAsSelfPay).
"""

from __future__ import annotations

from datetime import date

from injury.domain.values import AgreementStatus, LineRejection, Posting, RejectionReason


class InjuryError(Exception):
    """A command refused by a work-injury rule."""


class MissingValueError(InjuryError):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is required and was empty")


class InvalidDateError(InjuryError):
    def __init__(self, why: str) -> None:
        super().__init__(why)


# Agreements


class AgreementNotFoundError(InjuryError):
    def __init__(self, hospital_id: str) -> None:
        self.hospital_id = hospital_id
        super().__init__(f"institution {hospital_id} has no work-injury service agreement (协议) on record")


class AgreementNotActiveError(InjuryError):
    def __init__(self, hospital_id: str, on: date, status: AgreementStatus) -> None:
        self.hospital_id = hospital_id
        self.status = status
        super().__init__(
            f"institution {hospital_id}'s agreement is {status} on {on}: the network settles only at an "
            "agreement institution whose agreement is active on the service date"
        )


class AgreementOverlapError(InjuryError):
    def __init__(self, hospital_id: str, valid_from: date, current_to: date) -> None:
        super().__init__(
            f"a new agreement term for {hospital_id} from {valid_from} overlaps the current one, valid to "
            f"{current_to}: terminate it first or start the new term after it"
        )


# Catalogues


class CatalogueVersionError(InjuryError):
    def __init__(self, code: str, why: str) -> None:
        self.code = code
        super().__init__(f"catalogue item {code}: {why}")


# Determinations


class DeterminationNotFoundError(InjuryError):
    def __init__(self) -> None:
        super().__init__("no determination (工伤认定) application is recorded under this reference")


class DeterminationStageError(InjuryError):
    def __init__(self, determination_id: str, why: str) -> None:
        super().__init__(f"determination {determination_id}: {why}")


class InjuryDateInFutureError(InvalidDateError):
    def __init__(self, injury_date: date, today: date) -> None:
        super().__init__(f"injury date {injury_date} is after today {today} (Beijing): nothing to determine yet")


# Settlements


_REASON_TEXT: dict[RejectionReason, str] = {
    RejectionReason.INVALID_LINE_NO: "line numbers start at 1 and appear once",
    RejectionReason.INVALID_QUANTITY: "quantity must be a number above zero",
    RejectionReason.INVALID_PRICE: "unit price must be above zero fen",
    RejectionReason.INVALID_AMOUNT: "amount must be above zero fen",
    RejectionReason.AMOUNT_MISMATCH: "amount must equal quantity x unit price, rounded half-up to the fen",
    RejectionReason.UNKNOWN_ITEM: "the code is in no work-injury catalogue",
    RejectionReason.NOT_IN_FORCE: "no catalogue version of the item is valid on the service date",
}


def describe_rejection(rejection: LineRejection) -> str:
    """'line 3 (XA01...): <rule>' as the hospital reads it."""
    return f"line {rejection.line_no} ({rejection.item_code}): {_REASON_TEXT[rejection.reason]}"


class SettlementRejectedError(InjuryError):
    """Lines that cannot be priced; `rejections` names each line and its countable reason."""

    def __init__(self, posting: Posting, rejections: tuple[LineRejection, ...]) -> None:
        self.posting = posting
        self.rejections = rejections
        listed = "; ".join(describe_rejection(r) for r in rejections)
        super().__init__(f"settlement {posting.hospital_settlement_no} has lines that cannot be settled: {listed}")


class EmptySettlementError(InjuryError):
    def __init__(self, hospital_settlement_no: str) -> None:
        super().__init__(f"settlement {hospital_settlement_no} has no lines: there is nothing to settle")


class TotalMismatchError(InjuryError):
    def __init__(self, hospital_settlement_no: str, declared_fen: int, lines_fen: int) -> None:
        super().__init__(
            f"settlement {hospital_settlement_no} declares a total of {declared_fen} fen but its lines sum "
            f"to {lines_fen} fen: the total must be the sum of the lines"
        )


class SettlementConflictError(InjuryError):
    def __init__(self, hospital_settlement_no: str) -> None:
        self.hospital_settlement_no = hospital_settlement_no
        super().__init__(
            f"settlement number {hospital_settlement_no} was already posted with different content: a number "
            "is posted once (a retry must repeat it exactly); post a correction under a new number"
        )


class SettlementNotFoundError(InjuryError):
    def __init__(self, hospital_settlement_no: str) -> None:
        super().__init__(f"no settlement is recorded under hospital settlement number {hospital_settlement_no}")


class NotHeldError(InjuryError):
    def __init__(self, hospital_settlement_no: str, why: str) -> None:
        super().__init__(f"settlement {hospital_settlement_no} is not held as self-pay: {why}")


class DeterminationMismatchError(InjuryError):
    def __init__(self, determination_id: str) -> None:
        super().__init__(
            f"determination {determination_id} is for another person: a settlement uses the injured "
            "worker's own determination"
        )


class NotRecognisedError(InjuryError):
    def __init__(self, determination_id: str) -> None:
        super().__init__(
            f"determination {determination_id or '(none)'} has not recognised a work injury: a held "
            "settlement is re-settled through the network only after a recognition"
        )
