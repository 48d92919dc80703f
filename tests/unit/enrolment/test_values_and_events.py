"""Values (schemes, routes, months, rounding) and the stored form of every enrolment event."""

from __future__ import annotations

import json
import typing
from dataclasses import FrozenInstanceError, fields
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from enrolment.domain import events as e
from enrolment.domain.errors import InvalidDateError
from enrolment.domain.model import Employer
from enrolment.domain.model import fold as fold_employer
from enrolment.domain.person import Person
from enrolment.domain.person import fold as fold_person
from enrolment.domain.values import TIERS, TIERS_CLASS_1, Route, Scheme, month_bounds, month_key, round_fen
from runtime.serialization import from_json, to_json

NOW = datetime(2026, 3, 14, 2, 0, tzinfo=UTC)
CODE = "91350100M000100Y43"

SAMPLES: list[e.Event] = [
    e.MarketRegistrationHeld(
        credit_code=CODE,
        name="示例",
        division_code="350100",
        industry_code="C3110",
        established_on=date(2026, 3, 1),
        reason="held",
        held_at=NOW,
    ),
    e.EmployerRegistered(
        credit_code=CODE,
        name="示例",
        division_code="350100",
        industry_code="C3110",
        established_on=date(2026, 3, 1),
        route="zero_touch",
        registered_at=NOW,
    ),
    e.InjuryClassMatched(
        credit_code=CODE, risk_class=6, tier=Decimal("1.0"), rate=Decimal("0.013"), basis="division 31", matched_at=NOW
    ),
    e.InjuryClassNeedsReview(credit_code=CODE, industry_code="G59", candidates=(2, 5), reason="spans", at=NOW),
    e.InjuryClassAssigned(
        credit_code=CODE, risk_class=5, tier=Decimal("0.8"), rate=Decimal("0.0088"), assigned_by="clerk-7", at=NOW
    ),
    e.EmployerRegistrationOverdue(credit_code=CODE, established_on=date(2026, 3, 1), due_on=date(2026, 3, 31), at=NOW),
    e.EmployeeEnrolled(
        person_ref="p-1",
        citizen_id="11010519491231002X",
        employer_credit_code=CODE,
        schemes=("pension", "work_injury"),
        hired_on=date(2026, 3, 2),
        declared_wage_fen=250_000,
        base_fen=360_000,
        clamped="floor",
        enrolled_at=NOW,
        late=True,
    ),
    e.EmploymentEnded(person_ref="p-1", employer_credit_code=CODE, ended_on=date(2026, 3, 31), at=NOW),
    e.ContributionBaseDeclared(
        person_ref="p-1",
        employer_credit_code=CODE,
        year=2026,
        declared_wage_fen=700_000,
        base_fen=700_000,
        clamped=None,
        at=NOW,
    ),
    e.ContributionAssessed(
        person_ref="p-1",
        citizen_id="11010519491231002X",
        employer_credit_code=CODE,
        month="2026-03",
        base_fen=700_000,
        lines=(("pension", 112_000, 56_000), ("work_injury", 3_150, 0)),
        employer_total_fen=115_150,
        worker_total_fen=56_000,
        account_fen=56_000,
        due_on=date(2026, 4, 15),
        at=NOW,
    ),
    e.ContributionPaid(
        person_ref="p-1",
        employer_credit_code=CODE,
        month="2026-03",
        amount_fen=171_150,
        late_fee_fen=86,
        paid_on=date(2026, 4, 16),
        at=NOW,
    ),
    e.ContributionOverdue(
        person_ref="p-1", employer_credit_code=CODE, month="2026-03", due_on=date(2026, 4, 15), at=NOW
    ),
]


# Values


def test_schemes_and_routes_are_their_plain_names() -> None:
    assert [s.value for s in Scheme] == ["pension", "work_injury", "unemployment", "medical", "maternity"]
    assert [r.value for r in Route] == ["zero_touch", "manual"]
    assert Scheme("medical") is Scheme.MEDICAL


def test_class_1_has_three_tiers_and_the_other_classes_five() -> None:
    assert (Decimal("1.0"), Decimal("1.2"), Decimal("1.5")) == TIERS_CLASS_1
    assert (Decimal("0.5"), Decimal("0.8"), Decimal("1.0"), Decimal("1.2"), Decimal("1.5")) == TIERS


def test_a_month_key_is_the_year_and_month_of_a_day() -> None:
    assert month_key(date(2026, 3, 14)) == "2026-03"
    assert month_key(date(987, 12, 31)) == "0987-12"


def test_a_month_runs_from_its_first_to_its_last_day() -> None:
    assert month_bounds("2026-03") == (date(2026, 3, 1), date(2026, 3, 31))
    assert month_bounds("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))
    assert month_bounds("2026-02") == (date(2026, 2, 1), date(2026, 2, 28))


@pytest.mark.parametrize("month", ["2026-3", "2026-13", "2026-00", "0000-01", "26-03", "", "2026-03-01", "２０２６-03"])
def test_a_month_not_written_as_yyyy_mm_is_refused(month: str) -> None:
    with pytest.raises(InvalidDateError) as raised:
        month_bounds(month)

    assert "YYYY-MM" in str(raised.value)


@pytest.mark.parametrize(
    ("amount", "fen"),
    [("0.5", 1), ("1.5", 2), ("2.5", 3), ("2.4999", 2), ("712.6", 713), ("101.8", 102), ("0", 0)],
)
def test_amounts_round_half_up_to_the_fen(amount: str, fen: int) -> None:
    assert round_fen(Decimal(amount)) == fen


# Events


def test_every_event_type_has_a_sample_here() -> None:
    assert {type(s) for s in SAMPLES} == set(e.EVENT_TYPES) == set(typing.get_args(e.Event))
    assert set(e.EMPLOYER_EVENT_TYPES).isdisjoint(e.PERSON_EVENT_TYPES)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda s: type(s).__name__)
def test_an_event_survives_storage_as_json_exactly(event: e.Event) -> None:
    stored = json.loads(json.dumps(to_json(event)))

    assert from_json(type(event), stored) == event


@pytest.mark.parametrize("event", SAMPLES, ids=lambda s: type(s).__name__)
def test_events_are_frozen(event: e.Event) -> None:
    first = fields(event)[0].name

    with pytest.raises(FrozenInstanceError):
        setattr(event, first, "changed")


def test_each_aggregate_folds_past_the_other_aggregates_events() -> None:
    employer_events = [s for s in SAMPLES if isinstance(s, e.EMPLOYER_EVENT_TYPES)]
    person_events = [s for s in SAMPLES if isinstance(s, e.PERSON_EVENT_TYPES)]

    assert fold_employer(SAMPLES) == fold_employer(employer_events)
    assert fold_person(SAMPLES) == fold_person(person_events)
    assert fold_employer(person_events) == Employer()
    assert fold_person(employer_events) == Person()
