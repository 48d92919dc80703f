"""Stored events as JSON: frozen, slotted, keyword-only dataclasses survive to_json/from_json."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.serialization import dumps, from_json, to_json

BEIJING = timezone(timedelta(hours=8))


class Channel(StrEnum):
    COUNTER = "counter"
    WEB_HALL = "web_hall"


@dataclass(frozen=True, slots=True, kw_only=True)
class Money:
    amount: Decimal
    currency: str = "CNY"


@dataclass(frozen=True, slots=True, kw_only=True)
class Period:
    first: date
    last: date


@dataclass(frozen=True, slots=True, kw_only=True)
class ContributionAssessed:
    assessment_id: UUID
    employer: str
    channel: Channel
    period: Period
    assessed_at: datetime
    due: Money
    lines: tuple[Money, ...]
    insured_ids: tuple[str, ...]
    heads_by_division: dict[str, int]
    waived_on: date | None = None
    note: str | None = None
    reviewer: Period | None = None
    tags: tuple[Channel, ...] = field(default=())


def assessed(**overrides: object) -> ContributionAssessed:
    values: dict[str, object] = {
        "assessment_id": UUID("7d444840-9dc0-11d1-b245-5ffdce74fad2"),
        "employer": "91350100M000100Y43",
        "channel": Channel.WEB_HALL,
        "period": Period(first=date(2025, 1, 1), last=date(2025, 1, 31)),
        "assessed_at": datetime(2025, 2, 3, 9, 30, 15, 123456, tzinfo=BEIJING),
        "due": Money(amount=Decimal("12345.60")),
        "lines": (Money(amount=Decimal("0.01")), Money(amount=Decimal("-3.50"), currency="HKD")),
        "insured_ids": ("a1", "b2"),
        "heads_by_division": {"360102": 12, "360103": 0},
        **overrides,
    }
    return ContributionAssessed(**values)  # type: ignore[arg-type]


def through_text(value: object) -> object:
    """What comes back out of a JSONB column: plain JSON, nothing Python-specific."""
    return json.loads(json.dumps(to_json(value)))


def test_a_nested_event_round_trips_through_json_text() -> None:
    event = assessed()

    assert from_json(ContributionAssessed, through_text(event)) == event


def test_to_json_writes_plain_json_values() -> None:
    data = to_json(assessed(waived_on=date(2025, 3, 1), tags=(Channel.COUNTER,)))

    assert data == {
        "assessment_id": "7d444840-9dc0-11d1-b245-5ffdce74fad2",
        "employer": "91350100M000100Y43",
        "channel": "web_hall",
        "period": {"first": "2025-01-01", "last": "2025-01-31"},
        "assessed_at": "2025-02-03T09:30:15.123456+08:00",
        "due": {"amount": "12345.60", "currency": "CNY"},
        "lines": [{"amount": "0.01", "currency": "CNY"}, {"amount": "-3.50", "currency": "HKD"}],
        "insured_ids": ["a1", "b2"],
        "heads_by_division": {"360102": 12, "360103": 0},
        "waived_on": "2025-03-01",
        "note": None,
        "reviewer": None,
        "tags": ["counter"],
    }


def test_dumps_writes_the_json_text_of_to_json() -> None:
    event = assessed(reviewer=Period(first=date(2025, 3, 1), last=date(2025, 3, 2)))

    assert orjson.loads(dumps(event)) == to_json(event)
    assert dumps(event).startswith(b'{"assessment_id":"7d444840-9dc0-11d1-b245-5ffdce74fad2","employer":')


@dataclass(frozen=True, slots=True, kw_only=True)
class Tagged:
    tags: frozenset[Channel]


def test_a_set_is_written_as_an_array_and_read_back_as_a_set() -> None:
    event = Tagged(tags=frozenset({Channel.COUNTER, Channel.WEB_HALL}))

    assert sorted(to_json(event)["tags"]) == ["counter", "web_hall"]
    assert from_json(Tagged, through_text(event)) == event


def test_a_value_json_cannot_hold_is_refused_with_its_type() -> None:
    with pytest.raises(TypeError, match="complex"):
        dumps({"amount": 1j})


def test_rebuilt_values_have_their_declared_types() -> None:
    event = from_json(ContributionAssessed, through_text(assessed()))

    assert type(event.assessment_id) is UUID
    assert type(event.channel) is Channel
    assert type(event.period) is Period
    assert type(event.period.first) is date
    assert type(event.assessed_at) is datetime
    assert type(event.due.amount) is Decimal
    assert type(event.lines) is tuple
    assert all(type(line) is Money for line in event.lines)
    assert type(event.insured_ids) is tuple


def test_an_aware_datetime_keeps_its_offset() -> None:
    event = from_json(ContributionAssessed, through_text(assessed()))

    assert event.assessed_at.utcoffset() == timedelta(hours=8)
    assert event.assessed_at == datetime(2025, 2, 3, 1, 30, 15, 123456, tzinfo=UTC)


def test_decimals_keep_their_exponent() -> None:
    event = from_json(ContributionAssessed, through_text(assessed(due=Money(amount=Decimal("100.00")))))

    assert str(event.due.amount) == "100.00"
    assert event.due.amount.as_tuple() == Decimal("100.00").as_tuple()


def test_optional_fields_round_trip_when_set() -> None:
    event = assessed(
        waived_on=date(2025, 3, 1),
        note="已减免",
        reviewer=Period(first=date(2025, 3, 1), last=date(2025, 3, 2)),
        tags=(Channel.COUNTER, Channel.WEB_HALL),
    )

    assert from_json(ContributionAssessed, through_text(event)) == event


def test_optional_fields_round_trip_when_none() -> None:
    event = assessed(waived_on=None, note=None, reviewer=None)

    assert from_json(ContributionAssessed, through_text(event)) == event


def test_a_field_missing_from_an_older_stored_event_takes_its_default() -> None:
    stored = to_json(assessed())
    for added_later in ("waived_on", "note", "reviewer", "tags"):
        del stored[added_later]

    assert from_json(ContributionAssessed, stored) == assessed()


def test_empty_collections_round_trip() -> None:
    event = assessed(lines=(), insured_ids=(), heads_by_division={})

    assert from_json(ContributionAssessed, through_text(event)) == event


def test_a_dict_of_str_to_int_round_trips() -> None:
    heads = {"360102": 12, "440305": 3}

    assert from_json(dict[str, int], through_text(heads)) == heads


def test_plain_values_round_trip_on_their_own() -> None:
    moment = datetime(2025, 1, 1, tzinfo=UTC)

    assert from_json(Decimal, to_json(Decimal("1.5"))) == Decimal("1.5")
    assert from_json(date, to_json(date(2025, 1, 1))) == date(2025, 1, 1)
    assert from_json(datetime, to_json(moment)) == moment
    assert from_json(Channel, to_json(Channel.COUNTER)) is Channel.COUNTER
    assert from_json(tuple[int, ...], to_json((1, 2, 3))) == (1, 2, 3)
    optional_text: Any = str | None
    assert from_json(optional_text, None) is None


@given(st.decimals(allow_nan=False, places=None))
def test_any_finite_or_infinite_decimal_round_trips_exactly(amount: Decimal) -> None:
    rebuilt = from_json(Money, through_text(Money(amount=amount))).amount

    assert rebuilt == amount
    assert rebuilt.as_tuple() == amount.as_tuple()


@given(st.dates(), st.dates())
def test_any_pair_of_dates_round_trips(first: date, last: date) -> None:
    period = Period(first=first, last=last)

    assert from_json(Period, through_text(period)) == period


FIXED_OFFSETS = st.builds(
    timezone, st.integers(min_value=-18 * 60, max_value=18 * 60).map(lambda m: timedelta(minutes=m))
)
"""Fixed offsets: a named zone's ambiguous wall times (fold=1) compare unequal across zones by design."""


@given(st.datetimes(timezones=FIXED_OFFSETS))
def test_any_aware_datetime_round_trips_to_the_same_instant_and_offset(moment: datetime) -> None:
    rebuilt = from_json(datetime, through_text(moment))

    assert rebuilt == moment
    assert rebuilt.utcoffset() == moment.utcoffset()
