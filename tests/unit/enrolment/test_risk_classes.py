"""Work-injury risk classes from GB/T 4754-2017 industry codes (人社部发〔2015〕71号)."""

from __future__ import annotations

import itertools

import pytest

from enrolment.domain.errors import EnrolmentError, InvalidIndustryCodeError
from enrolment.domain.risk_classes import DIVISIONS, SECTIONS, SPLIT_DIVISIONS, ClassMatch, match_industry

# The 71号 table as domain.md 2.1 lists it, by 2017 division number (59 is split; see below).
EXPECTED_CLASSES: dict[int, set[int]] = {
    1: {65, 66, 67, 68, 69, 75, 85, 87, 91, 92, 93, 94, 95, 96, 97},
    2: {51, 52, 60, 61, 62, 63, 64, 70, 71, 72, 73, 74, 80, 82, 83, 84, 86, 88},
    3: {13, 14, 15, 16, 17, 20, 24, 39, 40, 41, 46, 76, 77, 78, 79, 81, 90},
    4: {1, 3, 5, 18, 19, 23, 27, 28, 29, 33, 34, 35, 36, 37, 38, 42, 43, 44, 45, 53, 56, 57, 89},
    5: {2, 11, 21, 22, 49, 50, 54, 55, 58},
    6: {4, 26, 30, 31, 32, 47, 48},
    7: {7, 12, 25},
    8: {6, 8, 9, 10},
}


def letter_of(division: int) -> str:
    return next(letter for letter, (low, high) in SECTIONS.items() if low <= division <= high)


# The table as data


def test_every_2017_division_from_01_to_97_is_mapped_exactly_once() -> None:
    mapped = sorted([*DIVISIONS, *SPLIT_DIVISIONS])

    assert mapped == [f"{n:02d}" for n in range(1, 98)]


def test_the_sections_a_to_t_hold_the_divisions_01_to_97_in_order_without_gaps() -> None:
    ranges = list(SECTIONS.values())

    assert list(SECTIONS) == list("ABCDEFGHIJKLMNOPQRST")
    assert ranges[0][0] == 1
    assert ranges[-1][1] == 97
    assert all(nxt[0] == prev[1] + 1 for prev, nxt in itertools.pairwise(ranges))


@pytest.mark.parametrize("risk_class", range(1, 9))
def test_each_class_holds_the_divisions_the_notice_names(risk_class: int) -> None:
    divisions = {
        n for n in range(1, 98) if n != 59 and match_industry(f"{letter_of(n)}{n:02d}").risk_class == risk_class
    }

    assert divisions == EXPECTED_CLASSES[risk_class]


# Section letters and division ranges


@pytest.mark.parametrize(("letter", "bounds"), list(SECTIONS.items()))
def test_a_section_letter_accepts_the_first_and_last_of_its_divisions(letter: str, bounds: tuple[int, int]) -> None:
    for division in bounds:
        if division == 59:
            continue
        match = match_industry(f"{letter}{division:02d}")
        assert match.risk_class in range(1, 9)
        assert match.candidates == (match.risk_class,)


@pytest.mark.parametrize(("letter", "bounds"), list(SECTIONS.items()))
def test_a_section_letter_refuses_the_divisions_just_outside_it(letter: str, bounds: tuple[int, int]) -> None:
    low, high = bounds
    for division in (low - 1, high + 1):
        with pytest.raises(InvalidIndustryCodeError) as raised:
            match_industry(f"{letter}{division:02d}")
        assert f"section {letter}" in str(raised.value)


# Examples


@pytest.mark.parametrize(
    ("code", "risk_class"),
    [
        ("C3110", 6),  # ferrous smelting
        ("I6510", 1),  # software
        ("I65", 1),
        ("I651", 1),
        ("G5910", 5),  # loading and unloading
        ("G591", 5),
        ("G5920", 2),  # general warehousing
        ("G5941", 2),  # dangerous goods warehousing
        ("G5990", 2),
        ("G5810", 5),  # multimodal transport
        ("B0610", 8),  # coal mining
        ("B0710", 7),  # oil and gas
        ("A0411", 6),  # fishery
        ("E4710", 6),  # house building
        ("F5211", 2),  # retail
        ("R8710", 1),  # radio and TV
        ("R8911", 4),  # sports
        ("T9700", 1),  # international organisations
    ],
)
def test_an_industry_code_resolves_to_its_risk_class(code: str, risk_class: int) -> None:
    assert match_industry(code) == ClassMatch(risk_class, (risk_class,), match_industry(code).basis)
    assert match_industry(code).risk_class == risk_class


def test_the_basis_names_the_division_and_the_notice() -> None:
    basis = match_industry("C3110").basis

    assert "division 31" in basis
    assert "人社部发〔2015〕71号" in basis


def test_land_management_is_class_3_and_the_basis_says_it_is_a_judgement() -> None:
    match = match_industry("N7910")

    assert match.risk_class == 3
    assert "judgement" in match.basis
    assert "not named" in match.basis


def test_division_59_alone_is_sent_to_review_with_both_candidate_classes() -> None:
    match = match_industry("G59")

    assert match.risk_class is None
    assert match.candidates == (2, 5)
    assert "division 59 spans classes 2 and 5" in match.basis
    assert "loading/unloading vs warehousing" in match.basis


def test_a_lower_case_code_with_surrounding_spaces_is_read() -> None:
    assert match_industry(" c3110 ").risk_class == 6


# Malformed codes


@pytest.mark.parametrize(
    "code",
    ["", "C", "C1", "C31100", "3110", "U01", "CC31", "C 3110", "C31-10", "C３１", "A00", "A13", "I00", "T98", "S90"],
)
def test_a_malformed_code_or_a_letter_that_does_not_hold_the_division_is_refused(code: str) -> None:
    with pytest.raises(InvalidIndustryCodeError) as raised:
        match_industry(code)

    assert isinstance(raised.value, EnrolmentError)
    assert repr(code) in str(raised.value)


def test_a_group_that_division_59_does_not_have_is_refused() -> None:
    with pytest.raises(InvalidIndustryCodeError) as raised:
        match_industry("G5970")

    assert "group 597" in str(raised.value)
