"""Rules of a pension transfer that a command can break; each message says which rule and why.

These are commands that cannot be carried out (bad input, wrong moment). A refused *application*
is not an error: it is a fact (TransferRefused) the applicant is told and that is counted.
"""

from __future__ import annotations

from datetime import date


class TransferError(Exception):
    """A command refused by a transfer rule."""


class InvalidPeriodError(TransferError):
    def __init__(self, why: str) -> None:
        super().__init__(f"contribution periods cannot be read: {why}")


class InvalidAmountError(TransferError):
    def __init__(self, what: str, amount_fen: int) -> None:
        super().__init__(f"{what} must be a whole number of fen, zero or more, got {amount_fen}")


class InvalidDateError(TransferError):
    def __init__(self, why: str) -> None:
        super().__init__(why)


class BirthInFutureError(InvalidDateError):
    def __init__(self, birth: date, today: date) -> None:
        super().__init__(f"date of birth {birth} is after today {today} (Beijing): the age rule cannot be applied")


class MissingValueError(TransferError):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is required and was empty")


class HistoryCopyBehindError(Exception):
    """The copy of the history says no where the enrolment service's record says yes: not decided."""

    def __init__(self) -> None:
        super().__init__(
            "this region's copy of your contribution history has not caught up with your latest enrolment "
            "or payment: nothing was decided; try again in a moment"
        )


class CaseNotFoundError(TransferError):
    def __init__(self) -> None:
        super().__init__(
            "no transfer application is recorded for this case: the information sheet and the funds "
            "answer a contact letter this agency sent after an application"
        )


class NotAwaitingTransferError(TransferError):
    """The case does not expect a sheet or funds: refused, a temporary account, or no letter sent."""

    def __init__(self, case_id: str, why: str) -> None:
        self.case_id = case_id
        super().__init__(f"transfer case {case_id} is not waiting for the old agency's sheet or funds: {why}")


class LetterNotReceivedError(TransferError):
    def __init__(self) -> None:
        super().__init__(
            "no contact letter (联系函) has been received for this case: the old agency issues the "
            "information sheet and transfers the funds only in answer to the new agency's letter"
        )
