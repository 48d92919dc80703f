"""The log safety net: personal numbers are masked, everything else survives untouched."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.logs import JsonFormatter, correlation_id, redact

CITIZEN_ID = "11010519491231002X"
PHONE = "13812345678"
BANK_ACCOUNT = "6222021234567890123"


def record(message: str, *args: object, extra: dict[str, object] | None = None) -> logging.LogRecord:
    made = logging.getLogger("yiwang.test").makeRecord(
        "yiwang.test", logging.INFO, __file__, 1, message, args, None, extra=extra
    )
    return made


def formatted(made: logging.LogRecord) -> dict[str, object]:
    output = JsonFormatter().format(made)
    assert "\n" not in output
    parsed: dict[str, object] = json.loads(output)
    return parsed


# Citizen ID numbers


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("11010519491231002X", "110105**********2X"),
        ("11010519491231002x", "110105**********2x"),
        ("440524188001010014", "440524**********14"),
        ("citizen 34052419800101001X applied", "citizen 340524**********1X applied"),
        ("身份证号:370101190102039973。", "身份证号:370101**********73。"),
        ("id=11010519491231002X,next", "id=110105**********2X,next"),
    ],
)
def test_citizen_id_numbers_are_masked_keeping_the_first_six_and_last_two(text: str, masked: str) -> None:
    assert redact(text) == masked


def test_a_citizen_id_number_with_a_wrong_check_character_is_still_masked() -> None:
    assert redact("110105194912310021") == "110105**********21"


def test_several_identifiers_in_one_message_are_all_masked() -> None:
    text = f"{CITIZEN_ID} called from {PHONE} about {BANK_ACCOUNT}"

    assert redact(text) == "110105**********2X called from 138****5678 about ****0123"


# Mobile numbers


@pytest.mark.parametrize("prefix", ["13", "14", "15", "16", "17", "18", "19"])
def test_mobile_numbers_starting_13_to_19_are_masked(prefix: str) -> None:
    number = f"{prefix}912345678"

    assert redact(f"tel {number}.") == f"tel {number[:3]}****5678."


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+8613812345678", "+86138****5678"),
        ("+86 13812345678", "+86 138****5678"),
        ("0086-13812345678", "0086-138****5678"),
        ("手机13812345678", "手机138****5678"),
    ],
)
def test_mobile_numbers_with_a_country_code_or_next_to_chinese_text_are_masked(text: str, masked: str) -> None:
    assert redact(text) == masked


@pytest.mark.parametrize("text", ["12812345678", "10012345678", "1381234567", "138123456789"])
def test_eleven_digit_numbers_not_starting_13_to_19_and_other_lengths_are_not_phones(text: str) -> None:
    assert redact(text) == text


# Bank-account-like digit runs


@pytest.mark.parametrize("length", [16, 17, 19])
def test_runs_of_16_to_19_digits_keep_only_their_last_four(length: int) -> None:
    run = ("6222021234567890123456")[:length]

    assert redact(f"account {run} debited") == f"account ****{run[-4:]} debited"


def test_an_eighteen_digit_account_number_is_masked_like_a_citizen_id() -> None:
    assert redact("622202123456789012") == "622202**********12"


@pytest.mark.parametrize("text", ["622202123456789", "62220212345678901234"])
def test_shorter_and_longer_digit_runs_are_left_alone(text: str) -> None:
    assert redact(text) == text


# What must survive


@pytest.mark.parametrize(
    "text",
    [
        "7d444840-9dc0-11d1-b245-5ffdce74fad2",
        "0f8fad5b-d9cb-469f-a165-a13812345678",
        "0f8fad5b-d9cb-469f-a165-13812345678a",
        "00000000-0000-4000-8000-123456789012",
    ],
)
def test_uuids_are_left_intact_even_when_they_hold_long_digit_runs(text: str) -> None:
    assert redact(f"correlation {text}") == f"correlation {text}"


@given(st.uuids())
def test_no_uuid_is_ever_altered(value: UUID) -> None:
    assert redact(str(value)) == str(value)
    assert redact(value.hex) == value.hex


@pytest.mark.parametrize(
    "text",
    [
        "2025-03-14T09:26:53+08:00",
        "2025-03-14T09:26:53.123456+00:00",
        "2025-03-14 09:26:53.123456Z",
        "2025-03-14",
    ],
)
def test_iso_timestamps_are_left_intact(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize("text", ["360102", "division 440305 of region 44", "110000"])
def test_division_codes_are_left_intact(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    "text",
    ["91350100M000100Y43", "91512081MA62K0260E", "9131000063159284XQ", "employer-91350100M000100Y43"],
)
def test_credit_codes_containing_letters_are_left_intact(text: str) -> None:
    assert redact(text) == text


def test_an_all_digit_credit_code_has_the_shape_of_a_citizen_id_and_is_masked_on_purpose() -> None:
    # The redactor cannot tell the two apart without a checksum, and a citizen ID number with a
    # typo is still personal data; masking an organisation code only costs some readability.
    assert redact("employer-913100006315928412") == "employer-913100**********12"


@pytest.mark.parametrize(
    "text",
    [
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
        "digest a1234567890123456789b",
        "pseudonym e13812345678f0a1",
    ],
)
def test_hex_identifiers_with_embedded_digit_runs_are_left_intact(text: str) -> None:
    assert redact(text) == text


def test_text_without_identifiers_is_returned_unchanged() -> None:
    text = "registered employer 南昌示例科技有限公司 in 360102 at version 3, took 12.5 ms"

    assert redact(text) == text


# JsonFormatter


def test_the_formatter_writes_one_json_object_with_time_level_logger_and_message() -> None:
    entry = formatted(record("employer %s registered", "91350100M000100Y43"))

    assert entry["level"] == "INFO"
    assert entry["logger"] == "yiwang.test"
    assert entry["message"] == "employer 91350100M000100Y43 registered"
    assert datetime.fromisoformat(str(entry["time"])).tzinfo is not None


def test_the_formatter_masks_the_message_after_arguments_are_merged() -> None:
    entry = formatted(record("citizen %s phoned from %s", CITIZEN_ID, PHONE))

    assert entry["message"] == "citizen 110105**********2X phoned from 138****5678"


def test_the_formatter_masks_string_extra_fields() -> None:
    entry = formatted(record("applied", extra={"citizen": CITIZEN_ID, "mobile": f"+86 {PHONE}"}))

    assert entry["citizen"] == "110105**********2X"
    assert entry["mobile"] == "+86 138****5678"


def test_the_formatter_masks_numbers_and_nested_extra_fields() -> None:
    entry = formatted(
        record(
            "applied",
            extra={
                "mobile_number": 13812345678,
                "attempts": 3,
                "applicant": {"citizen_id": CITIZEN_ID, "accounts": [BANK_ACCOUNT, "short"]},
                "phones": (PHONE,),
            },
        )
    )

    assert entry["mobile_number"] == "138****5678"
    assert entry["attempts"] == 3
    assert entry["applicant"] == {"citizen_id": "110105**********2X", "accounts": ["****0123", "short"]}
    assert entry["phones"] == ["138****5678"]


def test_the_formatter_keeps_safe_extra_values_as_they_are() -> None:
    moment = datetime(2025, 3, 14, 1, 26, 53, tzinfo=UTC)
    command = UUID("7d444840-9dc0-11d1-b245-5ffdce74fad2")

    entry = formatted(record("done", extra={"command_id": command, "at": moment, "ok": True, "ratio": 0.5}))

    assert entry["command_id"] == str(command)
    assert entry["at"] == "2025-03-14T01:26:53+00:00"
    assert entry["ok"] is True
    assert entry["ratio"] == 0.5


def test_the_formatter_masks_objects_it_can_only_write_as_text() -> None:
    class Applicant:
        def __str__(self) -> str:
            return f"Applicant({CITIZEN_ID})"

    entry = formatted(record("applied", extra={"applicant": Applicant()}))

    assert entry["applicant"] == "Applicant(110105**********2X)"


def test_the_formatter_masks_exception_text() -> None:
    try:
        raise ValueError(f"no insured person {CITIZEN_ID}")
    except ValueError:
        made = logging.getLogger("yiwang.test").makeRecord(
            "yiwang.test", logging.ERROR, __file__, 1, "lookup failed", (), sys.exc_info()
        )

    entry = formatted(made)

    assert entry["level"] == "ERROR"
    assert CITIZEN_ID not in str(entry["exception"])
    assert "110105**********2X" in str(entry["exception"])


def test_the_formatter_adds_the_correlation_id_of_the_current_context() -> None:
    token = correlation_id.set("7d444840-9dc0-11d1-b245-5ffdce74fad2")
    try:
        entry = formatted(record("working"))
    finally:
        correlation_id.reset(token)

    assert entry["correlation_id"] == "7d444840-9dc0-11d1-b245-5ffdce74fad2"
    assert "correlation_id" not in formatted(record("idle"))
