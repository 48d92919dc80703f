"""Identifier rules, cross-checked against python-stdnum where the two overlap."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, ValidationError
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.util import isdigits

from contracts.identifiers import (
    PROVINCE_CODES,
    CitizenId,
    CreditCode,
    CreditCodeUnverified,
    DivisionCode,
    IdentifierError,
    RegionCode,
    check_citizen_id,
    check_credit_code,
    check_division_code,
    check_region,
    citizen_id_birth_date,
    citizen_id_check_character,
    citizen_id_is_male,
    credit_code_check_character,
    credit_code_check_character_ok,
    mask_bank_account,
    mask_citizen_id,
    mask_phone,
    province_of,
    pseudonym,
    upgrade_legacy_citizen_id,
)

CITIZEN_SAMPLES = [
    "11010519491231002X",
    "440524188001010014",
    "34052419800101001X",
    "370101190102039973",
]
CREDIT_SAMPLES = [
    "91350100M000100Y43",
    "91512081MA62K0260E",
    "9131000063159284XQ",
    "11100000000013338W",
    "12100000000018032A",
]
REAL_CODE_FAILING_CHECK = "91350211M0000XUF46"
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
SALT = b"0123456789abcdef"


def reason_of(check: Callable[[str], object], value: str) -> str:
    with pytest.raises(IdentifierError) as caught:
        check(value)
    return caught.value.reason


def yyyymmdd(day: datetime.date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


birth_dates = st.dates(datetime.date(1800, 1, 1), datetime.date(2099, 12, 31))
citizen_bodies = st.builds(
    lambda address, born, sequence: address + yyyymmdd(born) + sequence,
    st.text("0123456789", min_size=6, max_size=6),
    birth_dates,
    st.text("0123456789", min_size=3, max_size=3),
)


# Citizen identity numbers


@pytest.mark.parametrize("number", CITIZEN_SAMPLES)
def test_published_citizen_id_samples_pass(number: str) -> None:
    assert check_citizen_id(number) == number


def test_a_lowercase_x_check_character_is_normalised_to_uppercase() -> None:
    assert check_citizen_id("11010519491231002x") == "11010519491231002X"


@pytest.mark.parametrize("number", CITIZEN_SAMPLES)
def test_every_single_character_substitution_of_a_citizen_id_is_detected(
    number: str,
) -> None:
    for position, original in enumerate(number):
        for replacement in "0123456789X":
            if replacement != original:
                corrupted = number[:position] + replacement + number[position + 1 :]
                with pytest.raises(IdentifierError):
                    check_citizen_id(corrupted)


@pytest.mark.parametrize("number", CITIZEN_SAMPLES)
def test_every_adjacent_transposition_of_a_citizen_id_is_detected(number: str) -> None:
    for position in range(17):
        left, right = number[position], number[position + 1]
        if left != right:
            swapped = number[:position] + right + left + number[position + 2 :]
            with pytest.raises(IdentifierError):
                check_citizen_id(swapped)


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("37010119010203997", "length"),
        ("3701011901020399733", "length"),
        ("37010119010203997Y", "charset"),
        ("3701011901020X9973", "charset"),
        ("37010119010203997\N{ARABIC-INDIC DIGIT THREE}", "charset"),
        ("370101190102309973", "birth_date"),
        ("370101179902039973", "birth_date"),
        ("370101190102039972", "check_character"),
    ],
)
def test_a_broken_citizen_id_is_refused_with_the_rule_it_breaks(number: str, reason: str) -> None:
    assert reason_of(check_citizen_id, number) == reason


def test_a_citizen_id_check_error_names_both_characters_but_not_the_number() -> None:
    with pytest.raises(IdentifierError) as caught:
        check_citizen_id("37010119010203997X")
    assert str(caught.value) == "citizen ID number check character is 'X', expected '3'"
    assert "370101" not in str(caught.value)


@pytest.mark.parametrize("address", ["830000", "810000", "999999", "000000"])
def test_address_codes_are_not_looked_up_in_a_division_list(address: str) -> None:
    body = address + "19900101001"
    assert check_citizen_id(body + citizen_id_check_character(body))


def test_birth_date_and_sex_are_read_from_a_citizen_id() -> None:
    assert citizen_id_birth_date("11010519491231002X") == datetime.date(1949, 12, 31)
    assert not citizen_id_is_male("11010519491231002X")
    assert citizen_id_is_male("370101190102039973")


def test_reading_a_birth_date_from_an_invalid_citizen_id_raises() -> None:
    assert reason_of(citizen_id_birth_date, "370101190102039972") == "check_character"


def test_a_legacy_15_digit_number_upgrades_to_the_matching_18_character_number() -> None:
    assert upgrade_legacy_citizen_id("370101010203997") == "370101190102039973"
    assert upgrade_legacy_citizen_id("110105491231002") == "11010519491231002X"


@pytest.mark.parametrize(
    ("legacy", "reason"),
    [
        ("37010101020399", "length"),
        ("370101190102039973", "length"),
        ("37010101020399X", "charset"),
        ("370101010230997", "birth_date"),
    ],
)
def test_a_broken_legacy_number_is_refused(legacy: str, reason: str) -> None:
    assert reason_of(upgrade_legacy_citizen_id, legacy) == reason


@given(citizen_bodies)
def test_the_citizen_id_check_character_matches_stdnum(body: str) -> None:
    assert citizen_id_check_character(body) == ric.calc_check_digit(body + "?")


def stdnum_citizen_id_is_valid_ignoring_birthplace(number: str) -> bool:
    """stdnum's ric.validate minus its birthplace lookup, plus our year >= 1800 rule.

    stdnum also looks the address code up in a county table and rejects codes not in
    force in the birth year: it refuses the published sample 440524188001010014 and
    raises KeyError on 34052419800101001X. The domain rule is not to check the
    address code, so that part is left out of the comparison.
    """
    number = ric.compact(number)
    if len(number) != 18 or not isdigits(number[:-1]):
        return False
    if number[-1] != ric.calc_check_digit(number):
        return False
    try:
        return ric.get_birth_date(number).year >= 1800
    except StdnumValidationError:
        return False


@given(
    st.one_of(
        st.text("0123456789Xx", min_size=18, max_size=18),
        st.builds(str.__add__, citizen_bodies, st.sampled_from("0123456789Xx")),
    )
)
def test_check_citizen_id_agrees_with_stdnum_on_random_strings(number: str) -> None:
    try:
        ours = check_citizen_id(number) == number.upper()
    except IdentifierError:
        ours = False
    assert ours == stdnum_citizen_id_is_valid_ignoring_birthplace(number)


@given(
    st.sampled_from(["110105", "110108", "310104", "440305", "360102"]),
    st.dates(datetime.date(2000, 1, 1), datetime.date(2020, 12, 31)),
    st.text("0123456789", min_size=3, max_size=3),
    st.one_of(st.none(), st.sampled_from("0123456789X")),
)
def test_every_citizen_id_stdnum_accepts_is_accepted(
    address: str, born: datetime.date, sequence: str, check: str | None
) -> None:
    body = address + yyyymmdd(born) + sequence
    number = body + (citizen_id_check_character(body) if check is None else check)
    if ric.is_valid(number):
        assert check_citizen_id(number) == number


# Unified social credit codes


@pytest.mark.parametrize("code", CREDIT_SAMPLES)
def test_published_credit_codes_pass(code: str) -> None:
    assert check_credit_code(code) == code
    assert credit_code_check_character_ok(code)


def test_a_lowercase_credit_code_is_normalised_to_uppercase() -> None:
    assert check_credit_code("91512081ma62k0260e") == "91512081MA62K0260E"


def test_a_real_code_failing_only_its_check_passes_only_unverified() -> None:
    assert reason_of(check_credit_code, REAL_CODE_FAILING_CHECK) == "check_character"
    unverified = check_credit_code(REAL_CODE_FAILING_CHECK, verify_check_character=False)
    assert unverified == REAL_CODE_FAILING_CHECK
    assert not credit_code_check_character_ok(unverified)


def test_a_credit_code_check_error_names_both_characters() -> None:
    with pytest.raises(IdentifierError, match="check character is '6', expected 'R'"):
        check_credit_code(REAL_CODE_FAILING_CHECK)


@pytest.mark.parametrize("code", CREDIT_SAMPLES)
def test_every_single_character_substitution_of_a_credit_code_is_refused(
    code: str,
) -> None:
    for position, original in enumerate(code):
        for replacement in CREDIT_ALPHABET:
            if replacement != original:
                corrupted = code[:position] + replacement + code[position + 1 :]
                with pytest.raises(IdentifierError):
                    check_credit_code(corrupted)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91350100M000100Y4", "length"),
        ("91350100M000100Y433", "length"),
        ("91350100M000I00Y43", "charset"),
        ("91350100M000O00Y43", "charset"),
        ("91350100M000100Y4Z", "charset"),
        ("9135010 M000100Y43", "charset"),
        ("9135A100M000100Y43", "charset"),
        ("01350100M000100Y43", "registration_authority"),
        ("B1350100M000100Y43", "registration_authority"),
        ("91990100M000100Y43", "province"),
        ("91000000M000100Y43", "province"),
    ],
)
def test_a_structurally_broken_credit_code_fails_even_without_check_verification(code: str, reason: str) -> None:
    def unverified(value: str) -> str:
        return check_credit_code(value, verify_check_character=False)

    assert reason_of(check_credit_code, code) == reason
    assert reason_of(unverified, code) == reason


def test_letter_registration_authorities_are_accepted() -> None:
    for authority in "ANY":
        body = authority + "1360100MA1234567"
        code = body + credit_code_check_character(body)
        assert check_credit_code(code) == code


@given(st.text(CREDIT_ALPHABET, min_size=17, max_size=17))
def test_the_credit_code_check_character_matches_stdnum(body: str) -> None:
    assert credit_code_check_character(body) == uscc.calc_check_digit(body)


divisions = st.one_of(
    st.builds(
        str.__add__,
        st.sampled_from(sorted(PROVINCE_CODES)),
        st.text("0123456789", min_size=4, max_size=4),
    ),
    st.just("100000"),
)


@given(
    st.sampled_from("123456789"),
    st.sampled_from("0123456789"),
    divisions,
    st.text(CREDIT_ALPHABET, min_size=9, max_size=9),
    st.one_of(st.none(), st.sampled_from(CREDIT_ALPHABET)),
)
def test_check_credit_code_agrees_with_stdnum_where_both_define_validity(
    authority: str, category: str, division: str, organisation: str, check: str | None
) -> None:
    """stdnum.cn.uscc checks length, charset, digits in 1-8 and the check character.

    It does not check the embedded organisation code, the registration authority or
    the division's province, and it refuses letter authorities (A, N, Y) that GB 32100
    allows, so inputs are drawn from the structure both sides accept.
    """
    body = authority + category + division + organisation
    code = body + (credit_code_check_character(body) if check is None else check)
    try:
        ours = check_credit_code(code) == code
    except IdentifierError:
        ours = False
    assert ours == uscc.is_valid(code)


@given(
    st.builds(
        "".join,
        st.tuples(
            st.sampled_from(CREDIT_ALPHABET),
            st.text(CREDIT_ALPHABET, min_size=1, max_size=1),
            st.one_of(divisions, st.text(CREDIT_ALPHABET, min_size=6, max_size=6)),
            st.text(CREDIT_ALPHABET.lower() + CREDIT_ALPHABET, min_size=10, max_size=10),
        ),
    )
)
def test_strict_credit_code_validity_is_unverified_validity_plus_the_check(
    code: str,
) -> None:
    try:
        check_credit_code(code, verify_check_character=False)
    except IdentifierError as structural:
        assert reason_of(check_credit_code, code) == structural.reason
        return
    if credit_code_check_character_ok(code):
        assert check_credit_code(code) == code.upper()
    else:
        assert reason_of(check_credit_code, code) == "check_character"


# Administrative division and region codes


@pytest.mark.parametrize(
    ("code", "province"),
    [("360100", "36"), ("110105", "11"), ("710000", "71"), ("820000", "82")],
)
def test_a_division_code_belongs_to_its_province(code: str, province: str) -> None:
    assert check_division_code(code) == code
    assert province_of(code) == province


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("36010", "length"),
        ("3601000", "length"),
        ("36010A", "charset"),
        ("990000", "province"),
        ("100000", "province"),
        ("830000", "province"),
    ],
)
def test_a_broken_division_code_is_refused(code: str, reason: str) -> None:
    assert reason_of(check_division_code, code) == reason
    assert reason_of(province_of, code) == reason


def test_region_codes_are_exactly_the_province_codes() -> None:
    assert len(PROVINCE_CODES) == 34
    for region in PROVINCE_CODES:
        assert check_region(region) == region
    assert reason_of(check_region, "10") == "province"
    assert reason_of(check_region, "360") == "length"
    assert reason_of(check_region, "3X") == "charset"


# pydantic types


class Person(BaseModel):
    citizen_id: CitizenId


class Employer(BaseModel):
    credit_code: CreditCode


class FeedEmployer(BaseModel):
    credit_code: CreditCodeUnverified


class Place(BaseModel):
    division: DivisionCode
    region: RegionCode


def test_a_model_citizen_id_is_normalised() -> None:
    assert Person(citizen_id="11010519491231002x").citizen_id == "11010519491231002X"


@pytest.mark.parametrize(
    ("number", "reason", "message"),
    [
        (
            "37010119010203997X",
            "check_character",
            "citizen ID number check character is 'X', expected '3'",
        ),
        (
            "370101190102309973",
            "birth_date",
            "citizen ID number birth date (characters 7-14) is not a calendar date",
        ),
        ("3701011901", "length", "citizen ID number must have 18 characters, got 10"),
    ],
)
def test_a_model_rejects_a_bad_citizen_id_with_a_message_naming_the_rule(
    number: str, reason: str, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Person(citizen_id=number)
    [error] = caught.value.errors()
    assert error["type"] == "citizen_id"
    assert error["msg"] == message
    assert error["ctx"]["reason"] == reason


def test_a_model_refuses_a_non_string_citizen_id() -> None:
    with pytest.raises(ValidationError) as caught:
        Person(citizen_id=370101190102039973)  # type: ignore[arg-type]
    assert caught.value.errors()[0]["type"] == "string_type"


def test_a_model_hiding_inputs_leaves_no_citizen_id_in_the_error_text() -> None:
    class QuietPerson(BaseModel):
        model_config = ConfigDict(hide_input_in_errors=True)
        citizen_id: CitizenId

    with pytest.raises(ValidationError) as caught:
        QuietPerson(citizen_id="37010119010203997X")
    assert "check character is 'X', expected '3'" in str(caught.value)
    assert re.search(r"[0-9]{7}", str(caught.value)) is None


def test_the_json_schema_shows_the_citizen_id_pattern() -> None:
    schema = Person.model_json_schema()["properties"]["citizen_id"]
    assert schema["type"] == "string"
    assert schema["pattern"] == "^[0-9]{17}[0-9Xx]$"


def test_the_json_schema_patterns_accept_the_samples() -> None:
    employer = Employer.model_json_schema()["properties"]["credit_code"]
    for code in [*CREDIT_SAMPLES, REAL_CODE_FAILING_CHECK, "91512081ma62k0260e"]:
        assert re.fullmatch(employer["pattern"], code)
    assert not re.fullmatch(employer["pattern"], "91350100M000I00Y43")
    place = Place.model_json_schema()["properties"]
    assert place["division"]["pattern"] == "^[0-9]{6}$"
    assert place["region"]["enum"] == sorted(PROVINCE_CODES)


def test_strict_and_unverified_credit_code_types_differ_only_on_the_check() -> None:
    with pytest.raises(ValidationError, match="check character is '6', expected 'R'"):
        Employer(credit_code=REAL_CODE_FAILING_CHECK)
    feed = FeedEmployer(credit_code=REAL_CODE_FAILING_CHECK.lower())
    assert feed.credit_code == REAL_CODE_FAILING_CHECK
    for model in (Employer, FeedEmployer):
        with pytest.raises(ValidationError) as caught:
            model(credit_code="91350100M000I00Y43")
        assert caught.value.errors()[0]["ctx"]["reason"] == "charset"


def test_division_and_region_types_validate() -> None:
    assert Place(division="360100", region="36") == Place(division="360100", region="36")
    with pytest.raises(ValidationError) as caught:
        Place(division="990000", region="99")
    assert [error["type"] for error in caught.value.errors()] == [
        "division_code",
        "region_code",
    ]


# Masking personal data


def test_masks_keep_only_the_agreed_characters() -> None:
    assert mask_citizen_id("11010519491231002X") == "110105**********2X"
    assert mask_citizen_id("370101010203997") == "370101*******97"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_bank_account("6222021234567890123") == "***************0123"


def test_values_too_short_to_mask_partially_are_masked_entirely() -> None:
    assert mask_citizen_id("11010519") == "********"
    assert mask_phone("1381234") == "*******"
    assert mask_bank_account("1234567") == "*******"
    assert mask_citizen_id("") == mask_phone("") == mask_bank_account("") == ""


@given(st.text("0123456789 -+X", max_size=40))
def test_masking_never_leaves_seven_consecutive_digits(value: str) -> None:
    for mask in (mask_citizen_id, mask_phone, mask_bank_account):
        masked = mask(value)
        assert len(masked) == len(value)
        assert re.search(r"[0-9]{7}", masked) is None


def test_a_pseudonym_is_the_hmac_sha256_prefix_and_depends_on_the_salt() -> None:
    number = "11010519491231002X"
    expected = hmac.new(SALT, number.encode(), hashlib.sha256).hexdigest()[:16]
    assert pseudonym(number, salt=SALT) == expected
    assert re.fullmatch(r"[0-9a-f]{16}", expected)
    assert pseudonym(number, salt=SALT[::-1]) != expected
    assert pseudonym("370101190102039973", salt=SALT) != expected


def test_a_pseudonym_refuses_a_short_salt() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        pseudonym("11010519491231002X", salt=b"short")
