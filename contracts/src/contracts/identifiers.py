"""Chinese identifiers: citizen ID numbers, social credit codes, division codes.

Every check raises `IdentifierError` whose `reason` is a short machine code, so
callers can tell a typo ("check_character") from garbage ("length", "charset").
The annotated types (`CitizenId`, `CreditCode`, ...) run the same checks inside
pydantic models.

Error messages never echo a whole identifier. The masking helpers at the bottom
are the only sanctioned way to put citizen IDs, phone numbers or bank accounts
into logs and spans.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from collections.abc import Callable
from typing import Annotated, Final

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

__all__ = [
    "PROVINCE_CODES",
    "CitizenId",
    "CreditCode",
    "CreditCodeUnverified",
    "DivisionCode",
    "IdentifierError",
    "RegionCode",
    "check_citizen_id",
    "check_credit_code",
    "check_division_code",
    "check_region",
    "citizen_id_birth_date",
    "citizen_id_check_character",
    "citizen_id_is_male",
    "credit_code_check_character",
    "credit_code_check_character_ok",
    "mask_bank_account",
    "mask_citizen_id",
    "mask_phone",
    "province_of",
    "pseudonym",
    "upgrade_legacy_citizen_id",
]

_DIGITS: Final = frozenset("0123456789")

PROVINCE_CODES: Final = frozenset({
    "11", "12", "13", "14", "15",
    "21", "22", "23",
    "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46",
    "50", "51", "52", "53", "54",
    "61", "62", "63", "64", "65",
    "71", "81", "82",
})  # fmt: skip
"""GB/T 2260 province-level codes (the first two digits of a division code)."""


class IdentifierError(ValueError):
    """An identifier broke a format rule; `reason` names it, e.g. "check_character"."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# Citizen identity number, GB 11643-1999

_CITIZEN_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CITIZEN_CHECK_SYMBOLS: Final = "10X98765432"
_EARLIEST_BIRTH_YEAR: Final = 1800


def citizen_id_check_character(body: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits of a citizen ID number.

    S = sum of digit * weight with weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2;
    the check character is "10X98765432"[S mod 11].
    """
    if len(body) != 17 or not _DIGITS.issuperset(body):
        raise IdentifierError("charset", "citizen ID check is computed over exactly 17 digits")
    total = sum(int(digit) * weight for digit, weight in zip(body, _CITIZEN_WEIGHTS, strict=True))
    return _CITIZEN_CHECK_SYMBOLS[total % 11]


def _birth_date(yyyymmdd: str) -> datetime.date:
    year, month, day = int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:])
    if year < _EARLIEST_BIRTH_YEAR:
        raise IdentifierError(
            "birth_date",
            f"citizen ID number birth year is before {_EARLIEST_BIRTH_YEAR}",
        )
    try:
        return datetime.date(year, month, day)
    except ValueError:
        raise IdentifierError(
            "birth_date",
            "citizen ID number birth date (characters 7-14) is not a calendar date",
        ) from None


def check_citizen_id(value: str) -> str:
    """Validate an 18-character citizen ID number; return it with "x" upper-cased.

    Rules: 17 ASCII digits then a digit or X; characters 7-14 are a real YYYYMMDD
    birth date with year >= 1800; the last character is the MOD 11-2 check of the
    first 17. The address code (characters 1-6) is deliberately not checked: it
    is the code in force when the number was issued, and residence permits use
    codes such as 830000.
    """
    if len(value) != 18:
        raise IdentifierError("length", f"citizen ID number must have 18 characters, got {len(value)}")
    for position, char in enumerate(value, start=1):
        if char not in _DIGITS and not (position == 18 and char in "Xx"):
            allowed = "a digit or X" if position == 18 else "a digit"
            raise IdentifierError(
                "charset",
                f"citizen ID number character {position} is {char!r}, expected {allowed}",
            )
    normalised = value.upper()
    _birth_date(normalised[6:14])
    actual, expected = normalised[17], citizen_id_check_character(normalised[:17])
    if actual != expected:
        raise IdentifierError(
            "check_character",
            f"citizen ID number check character is {actual!r}, expected {expected!r}",
        )
    return normalised


def citizen_id_birth_date(value: str) -> datetime.date:
    """The birth date encoded in characters 7-14 of a valid citizen ID number."""
    return _birth_date(check_citizen_id(value)[6:14])


def citizen_id_is_male(value: str) -> bool:
    """Whether a valid citizen ID number is a man's: the 17th digit is odd."""
    return int(check_citizen_id(value)[16]) % 2 == 1


def upgrade_legacy_citizen_id(value: str) -> str:
    """Convert a 15-digit GB 11643-1989 number to the 18-character form.

    The legacy layout is address(6) + YYMMDD + sequence(3); the upgrade inserts
    "19" before the year and appends the MOD 11-2 check character.
    """
    if len(value) != 15:
        raise IdentifierError("length", f"legacy citizen ID number must have 15 digits, got {len(value)}")
    if not _DIGITS.issuperset(value):
        raise IdentifierError("charset", "legacy citizen ID number must be all digits")
    body = f"{value[:6]}19{value[6:]}"
    _birth_date(body[6:14])
    return body + citizen_id_check_character(body)


# Administrative division code, GB/T 2260


def _check_digits(value: str, length: int, what: str) -> None:
    if len(value) != length:
        raise IdentifierError("length", f"{what} must have {length} digits, got {len(value)}")
    if not _DIGITS.issuperset(value):
        raise IdentifierError("charset", f"{what} must contain only digits 0-9")


def check_region(value: str) -> str:
    """Validate a region code: a two-digit province code such as "36" (Jiangxi)."""
    _check_digits(value, 2, "region code")
    if value not in PROVINCE_CODES:
        raise IdentifierError("province", f"region code {value!r} is not a province code")
    return value


def check_division_code(value: str) -> str:
    """Validate a six-digit GB/T 2260 division code with a real province prefix.

    Lower levels are not looked up: abolished codes are retired, never reused, so
    old records legitimately carry codes missing from today's list.
    """
    _check_digits(value, 6, "division code")
    if value[:2] not in PROVINCE_CODES:
        raise IdentifierError("province", f"division code {value!r} does not start with a province code")
    return value


def province_of(code: str) -> str:
    """The province (region) code of a valid division code: "360100" -> "36"."""
    return check_division_code(code)[:2]


# Unified social credit code, GB 32100-2015

_CREDIT_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUES: Final = {symbol: value for value, symbol in enumerate(_CREDIT_ALPHABET)}
_CREDIT_INPUT: Final = frozenset(_CREDIT_ALPHABET + _CREDIT_ALPHABET.lower())
_CREDIT_WEIGHTS: Final = tuple(pow(3, i, 31) for i in range(17))
_REGISTRATION_AUTHORITIES: Final = frozenset("123456789ANY")
_NATIONAL_REGISTRATION_DIVISION: Final = "100000"


def credit_code_check_character(body: str) -> str:
    """Check character for the first 17 characters of a unified social credit code.

    Symbols 0-9 A-H J-N P-R T U W-Y take values 0-30; S = sum of value * weight with
    weights 3^(i-1) mod 31 = 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28;
    the check value is 31 - (S mod 31), with 31 written as 0.
    """
    if len(body) != 17 or not _CREDIT_INPUT.issuperset(body):
        raise IdentifierError("charset", "credit code check is computed over 17 credit-code symbols")
    total = sum(_CREDIT_VALUES[symbol] * weight for symbol, weight in zip(body.upper(), _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_ALPHABET[(31 - total % 31) % 31]


def credit_code_check_character_ok(value: str) -> bool:
    """Whether the 18th character of a structurally valid code matches its check."""
    return credit_code_check_character(value[:17]) == value[17].upper()


def check_credit_code(value: str, *, verify_check_character: bool = True) -> str:
    """Validate an 18-character unified social credit code and return it upper-cased.

    Rules: every character is one of 0-9 A-H J-N P-R T U W-Y (no I O S V Z);
    character 1 is a registration authority (1-9, A, N or Y); characters 3-8 are
    the registering authority's division code (a GB/T 2260 province prefix, or
    100000 for national-level registration); character 18 is the check character.
    Some genuine codes fail only the check, so `verify_check_character=False`
    accepts them for routing to manual review; `credit_code_check_character_ok`
    then tells whether the check held.
    """
    if len(value) != 18:
        raise IdentifierError("length", f"credit code must have 18 characters, got {len(value)}")
    for position, char in enumerate(value, start=1):
        if char not in _CREDIT_INPUT:
            raise IdentifierError(
                "charset",
                f"credit code character {position} is {char!r}, not one of 0-9 A-H J-N P-R T U W-Y",
            )
    normalised = value.upper()
    authority = normalised[0]
    if authority not in _REGISTRATION_AUTHORITIES:
        raise IdentifierError(
            "registration_authority",
            f"credit code registration authority {authority!r} is not 1-9, A, N or Y",
        )
    division = normalised[2:8]
    if not _DIGITS.issuperset(division):
        raise IdentifierError("charset", "credit code characters 3-8 must be a six-digit division code")
    if division[:2] not in PROVINCE_CODES and division != _NATIONAL_REGISTRATION_DIVISION:
        raise IdentifierError(
            "province",
            f"credit code division code {division!r} has no province prefix",
        )
    if verify_check_character:
        actual, expected = normalised[17], credit_code_check_character(normalised[:17])
        if actual != expected:
            raise IdentifierError(
                "check_character",
                f"credit code check character is {actual!r}, expected {expected!r}",
            )
    return normalised


def _check_credit_code_unverified(value: str) -> str:
    return check_credit_code(value, verify_check_character=False)


# pydantic types


def _for_pydantic(check: Callable[[str], str], error_type: str) -> AfterValidator:
    def validate(value: str) -> str:
        try:
            return check(value)
        except IdentifierError as error:
            raise PydanticCustomError(
                error_type, "{message}", {"reason": error.reason, "message": str(error)}
            ) from error

    return AfterValidator(validate)


_SYMBOL: Final = "[0-9A-HJ-NP-RTUW-Ya-hj-np-rtuw-y]"

CitizenId = Annotated[
    str,
    _for_pydantic(check_citizen_id, "citizen_id"),
    Field(
        json_schema_extra={
            "pattern": "^[0-9]{17}[0-9Xx]$",
            "description": "Citizen identity number (GB 11643-1999)",
        }
    ),
]
"""An 18-character citizen ID number, normalised to upper-case X."""

_CREDIT_CODE_SCHEMA: Final = {
    "pattern": f"^[1-9ANYany]{_SYMBOL}[0-9]{{6}}{_SYMBOL}{{10}}$",
    "description": "Unified social credit code (GB 32100-2015)",
}

CreditCode = Annotated[
    str,
    _for_pydantic(check_credit_code, "credit_code"),
    Field(json_schema_extra=_CREDIT_CODE_SCHEMA),
]
"""A credit code whose check character must be right; for manual entry."""

CreditCodeUnverified = Annotated[
    str,
    _for_pydantic(_check_credit_code_unverified, "credit_code"),
    Field(json_schema_extra=_CREDIT_CODE_SCHEMA),
]
"""A structurally valid credit code, check character unverified; for feed intake."""

DivisionCode = Annotated[
    str,
    _for_pydantic(check_division_code, "division_code"),
    Field(
        json_schema_extra={
            "pattern": "^[0-9]{6}$",
            "description": "Administrative division code (GB/T 2260)",
        }
    ),
]
"""A six-digit administrative division code with a real province prefix."""

RegionCode = Annotated[
    str,
    _for_pydantic(check_region, "region_code"),
    Field(
        json_schema_extra={
            "enum": sorted(PROVINCE_CODES),
            "description": "Province: first two digits of a GB/T 2260 division code",
        }
    ),
]
"""A two-digit province code."""


# Masking personal data


def mask_citizen_id(value: str) -> str:
    """Keep the first 6 and last 2 characters: "110105**********2X".

    Anything shorter than 15 characters is not a citizen ID and is masked entirely.
    """
    if len(value) < 15:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 8) + value[-2:]


def mask_phone(value: str) -> str:
    """Keep the first 3 and last 4 characters: "138****5678".

    Anything shorter than 11 characters is masked entirely.
    """
    if len(value) < 11:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_bank_account(value: str) -> str:
    """Keep the last 4 characters: "************1234".

    Anything shorter than 8 characters is masked entirely.
    """
    if len(value) < 8:
        return "*" * len(value)
    return "*" * (len(value) - 4) + value[-4:]


_MIN_SALT_BYTES: Final = 16


def pseudonym(value: str, *, salt: bytes) -> str:
    """A stable, non-reversible reference: HMAC-SHA256(salt, value), 16 hex chars.

    Identifiers have small value spaces, so the salt is the whole secret and must
    be at least 16 bytes. Normalise the value first (e.g. `check_citizen_id`) so
    that equal identifiers map to equal pseudonyms.
    """
    if len(salt) < _MIN_SALT_BYTES:
        raise ValueError(f"pseudonym salt must be at least {_MIN_SALT_BYTES} bytes")
    return hmac.new(salt, value.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
