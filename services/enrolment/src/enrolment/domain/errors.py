"""Rules of enrolment that a command can break; each message says which rule and why."""

from __future__ import annotations

from datetime import date
from decimal import Decimal


class EnrolmentError(Exception):
    """A command refused by an enrolment rule."""


# Employers


class EmployerAlreadyRegisteredError(EnrolmentError):
    def __init__(self, credit_code: str) -> None:
        super().__init__(f"employer {credit_code} is already registered")


class EmployerNotFoundError(EnrolmentError):
    def __init__(self, credit_code: str) -> None:
        who = f"employer {credit_code}" if credit_code else "the employer"
        super().__init__(f"{who} is not registered")


class EstablishedInFutureError(EnrolmentError):
    def __init__(self, established_on: date | None = None, today: date | None = None) -> None:
        if established_on is None or today is None:
            super().__init__("established_on is in the future")
        else:
            super().__init__(
                f"established_on {established_on} is in the future: the agency's date (Beijing) is {today}"
            )


class InvalidIndustryCodeError(EnrolmentError):
    def __init__(self, industry_code: str, why: str) -> None:
        self.industry_code = industry_code
        super().__init__(f"industry code {industry_code!r} is not a GB/T 4754-2017 code: {why}")


class InvalidRiskClassError(EnrolmentError):
    def __init__(self, risk_class: int) -> None:
        super().__init__(
            f"work-injury risk class {risk_class} does not exist: classes run 1 to 8 (人社部发〔2015〕71号) "
            "and the region's rate table must give a base rate for it"
        )


class InvalidTierError(EnrolmentError):
    def __init__(self, risk_class: int, tier: Decimal, allowed: tuple[Decimal, ...]) -> None:
        choices = ", ".join(str(t) for t in allowed)
        super().__init__(
            f"tier {tier} is not allowed for risk class {risk_class}: the base rate floats only to {choices} "
            "times itself (人社部发〔2015〕71号; class 1 never floats below its base)"
        )


class InjuryRatePendingError(EnrolmentError):
    def __init__(self, credit_code: str) -> None:
        super().__init__(
            f"employer {credit_code} has no work-injury rate yet (its risk class awaits review): "
            "assign the class before assessing work-injury contributions"
        )


# Rate tables


class NoRateTableError(EnrolmentError):
    def __init__(self, region: str, year: int) -> None:
        self.region = region
        self.year = year
        super().__init__(f"no contribution rate table for region {region} in {year}: rates are set per region and year")


class SchemeNotOfferedError(EnrolmentError):
    def __init__(self, scheme: str, region: str) -> None:
        super().__init__(f"scheme {scheme!r} is not offered in region {region}: its rate table does not list it")


class InvalidAmountError(EnrolmentError):
    def __init__(self, what: str, amount_fen: int) -> None:
        super().__init__(f"{what} must be a positive amount of fen, got {amount_fen}")


class InvalidDateError(EnrolmentError):
    def __init__(self, why: str) -> None:
        super().__init__(why)


# Employees


class HiredInFutureError(EnrolmentError):
    def __init__(self, hired_on: date, today: date) -> None:
        super().__init__(
            f"hired_on {hired_on} is in the future: enrolment follows the start of employment, "
            f"and the agency's date (Beijing) is {today}"
        )


class AlreadyEnrolledError(EnrolmentError):
    def __init__(self, person_ref: str, employer_credit_code: str) -> None:
        super().__init__(
            f"person {person_ref} is already enrolled with employer {employer_credit_code}: end that employment first"
        )


class DoublePensionEnrolmentError(EnrolmentError):
    def __init__(self, person_ref: str, where: str) -> None:
        super().__init__(
            f"person {person_ref} already has an active pension enrolment {where}: pension is paid through one "
            "enrolment at a time, and no one holds two active pension enrolments in different pooling areas "
            "for the same month"
        )


class NotEnrolledError(EnrolmentError):
    def __init__(self, person_ref: str, employer_credit_code: str, month: str | None = None) -> None:
        when = f" in {month}" if month else ""
        super().__init__(f"{_person(person_ref)} is not enrolled with employer {employer_credit_code}{when}")


class AssessmentBatchTooLargeError(EnrolmentError):
    def __init__(self, people: int, limit: int) -> None:
        super().__init__(
            f"the batch's employers have {people} people on their payrolls in the month, more than the {limit} "
            "one request assesses: send fewer employers at a time"
        )


class PaymentBatchTooLargeError(EnrolmentError):
    def __init__(self, people: int, limit: int) -> None:
        super().__init__(
            f"the batch's lines have {people} people on their payrolls, more than the {limit} one request pays: "
            "send fewer lines at a time"
        )


class NothingAssessedError(EnrolmentError):
    def __init__(self, person_ref: str, employer_credit_code: str, month: str) -> None:
        super().__init__(
            f"nothing was assessed for {_person(person_ref)} with employer {employer_credit_code} in {month}: "
            "a payment settles an assessed month"
        )


def _person(person_ref: str) -> str:
    return f"person {person_ref}" if person_ref else "the person"


class EmployerNotHeldError(EnrolmentError):
    """Only a feed record held for review can be approved."""

    def __init__(self, credit_code: str) -> None:
        super().__init__(f"no feed record for {credit_code} is held for review")
