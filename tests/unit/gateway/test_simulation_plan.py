"""The simulation's plan: a profile's year laid out as requests whose handled services give its figures."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from contracts.enrolment.commands import ASSESSED_TOGETHER, ENROLLED_TOGETHER, PAID_TOGETHER
from contracts.identifiers import check_citizen_id, check_credit_code
from gateway.simulation import Plan, PlanError, Profile, build_plan, month_first, month_last, months_up_to

SCENARIOS = Path(__file__).parents[3] / "docs" / "scenarios"
TODAY = date(2026, 12, 3)


def profile(name: str = "nanchang-2021") -> Profile:
    return Profile.load(SCENARIOS / f"{name}.json")


@dataclass
class Enrolment:
    employer: str
    hired_on: date
    ended_on: date | None = None

    def covers(self, first: date, last: date) -> bool:
        return self.hired_on <= last and (self.ended_on is None or self.ended_on >= first)


def enrolments(plan: Plan) -> list[dict[str, Any]]:
    """Every enrolment the plan sends, each file's lines in order."""
    return [line for s in plan.steps for c in s.calls if c.path == "/employees/batch" for line in c.body["enrolments"]]


def replay(plan: Plan) -> Counter[str]:
    """Play the plan against a model of the services' rules; returns handled services here by channel."""
    here, today_first = plan.profile.region, month_first(plan.months[-1])
    jobs: dict[tuple[str, str], Enrolment] = {}
    paid: dict[tuple[str, str], set[str]] = {}
    assessed: set[tuple[str, str, str]] = set()  # (region, employer, month)
    handled: Counter[str] = Counter()

    def on_payroll(region: str, employer: str, month: str) -> list[str]:
        first, last = month_first(month), month_last(month)
        return [p for (r, p), e in jobs.items() if r == region and e.employer == employer and e.covers(first, last)]

    for step in plan.steps:
        for call in step.calls:
            body, region = call.body, call.region
            if call.path == "/feeds/market-registrations":
                assert len(body["records"]) == call.expect["registered"]
                assert call.counted == (len(body["records"]) if region == here else 0)
            elif call.path == "/employees/batch":
                lines = body["enrolments"]
                assert 0 < len(lines) <= ENROLLED_TOGETHER and call.expect == {"enrolled": len(lines)}
                assert call.counted == (len(lines) if region == here else 0)
                for line in lines:
                    person, hired_on = line["citizen_id"], date.fromisoformat(line["hired_on"])
                    assert hired_on <= plan.today
                    assert (region, person) not in jobs
                    # The other region's pension enrolment no longer covers today's month.
                    assert all(e.ended_on and e.ended_on < today_first for (r, p), e in jobs.items() if p == person)
                    jobs[(region, person)] = Enrolment(line["employer_credit_code"], hired_on)
            elif call.path == "/employments/end/batch":
                lines = body["ends"]
                assert 0 < len(lines) <= ENROLLED_TOGETHER and call.expect == {"ended": len(lines)}
                assert call.counted == (len(lines) if region == here else 0)
                for line in lines:
                    job = jobs[(region, line["citizen_id"])]
                    assert job.employer == line["employer_credit_code"]
                    assert job.ended_on is None and job.hired_on <= date.fromisoformat(line["ended_on"])
                    job.ended_on = date.fromisoformat(line["ended_on"])
            elif call.path == "/contributions/assessments/batch":
                employers = body["employer_credit_codes"]
                assert len(set(employers)) == len(employers) <= ASSESSED_TOGETHER
                assert call.expect["assessed"] == sum(len(on_payroll(region, e, body["month"])) for e in employers)
                assessed.update((region, e, body["month"]) for e in employers)
            elif call.path == "/contributions/payments/batch":
                lines = [(line["employer_credit_code"], line["month"]) for line in body["payments"]]
                assert len(set(lines)) == len(lines) <= PAID_TOGETHER
                assert all((region, employer, month) in assessed for employer, month in lines)
                people = [(p, month) for employer, month in lines for p in on_payroll(region, employer, month)]
                assert call.expect["paid"] == len(people)
                assert call.counted == (len(people) if region == here else 0)
                for person, month in people:
                    paid.setdefault((region, person), set()).add(month)
            elif call.path == "/transfers":
                person, old = body["citizen_id"], body["from_region"]
                assert jobs[(region, person)].ended_on is None and paid[(region, person)]
                assert jobs[(old, person)].ended_on is not None and paid[(old, person)]
                assert paid[(region, person)].isdisjoint(paid[(old, person)])
            else:
                raise AssertionError(call.path)
            if region == here and call.counted:
                assert call.channel
                handled[call.channel] += call.counted
    return handled


def test_nanchang_at_a_thousandth_comes_within_half_a_count_of_its_online_share() -> None:
    plan = build_plan(profile(), scale=0.001, seed=7, today=TODAY)

    assert replay(plan) == plan.by_channel
    assert plan.handled == 1920  # 1,919.5 rounded half up
    assert plan.online == 1730  # 1920 x 1,729,700 / 1,919,500 = 1,730.15
    assert plan.online_share_percent == 90.10
    assert abs(plan.online_share_percent - 90.11) <= plan.tolerance_percent == pytest.approx(50 / 1920 + 0.005)
    assert plan.by_channel["counter"] == 190 and plan.counter_share_percent == 9.90
    assert plan.by_channel["system"] == plan.employers == 17
    assert (plan.transfers_in, plan.transfers_out) == (25, 15)
    assert plan.months == months_up_to(TODAY) == tuple(f"2026-{m:02d}" for m in range(1, 13))


@pytest.mark.parametrize("seed", range(12))
def test_the_small_profile_plays_by_the_rules_for_any_seed(seed: int) -> None:
    plan = build_plan(profile("nanchang-2021-small"), seed=seed, today=date(2026, 7, 1))

    assert replay(plan) == plan.by_channel
    assert plan.handled == 300 and plan.online == 270 and plan.online_share_percent == 90.00
    assert abs(plan.online_share_percent - 90.11) <= plan.tolerance_percent
    assert plan.by_channel["counter"] == 30 and plan.by_channel["system"] == 3
    assert (plan.transfers_in, plan.transfers_out) == (4, 2)
    # 270 online less 3 from the feed, split 45 : 45 : 10.
    assert [plan.by_channel[c] for c in ("web_hall", "mobile_app", "kiosk")] == [120, 120, 27]


def test_the_same_seed_gives_the_same_plan_and_another_seed_other_people() -> None:
    small = profile("nanchang-2021-small")
    one, again, other = (build_plan(small, seed=s, today=TODAY) for s in (1, 1, 2))

    def people(plan: Plan) -> set[str]:
        return {e["citizen_id"] for e in enrolments(plan)}

    assert one == again
    assert people(one).isdisjoint(people(other))


def test_people_and_employers_have_valid_distinct_identifiers() -> None:
    plan = build_plan(profile(), scale=0.001, seed=3, today=TODAY)
    calls = [c for s in plan.steps for c in s.calls]
    enrolled = enrolments(plan)
    codes = [r["credit_code"] for c in calls if c.path == "/feeds/market-registrations" for r in c.body["records"]]
    keys = [c.key for c in calls]

    assert all(check_citizen_id(e["citizen_id"]) == e["citizen_id"] for e in enrolled)
    assert all(check_credit_code(code) == code for code in codes)
    assert len(set(codes)) == len(codes) == 17 + 2  # and two employers in 44 for the 40 movers
    movers = Counter(e["citizen_id"] for e in enrolled)
    assert sorted(Counter(movers.values()).items()) == [(1, len(movers) - 40), (2, 40)]
    assert len(set(keys)) == len(keys)


def test_early_in_a_month_nobody_is_hired_after_today() -> None:
    plan = build_plan(profile("nanchang-2021-small"), seed=5, today=date(2026, 3, 1))

    hired = [date.fromisoformat(e["hired_on"]) for e in enrolments(plan)]
    assert plan.months[0] == "2025-04" and plan.months[-1] == "2026-03"
    assert max(hired) == date(2026, 3, 1)
    assert replay(plan) == plan.by_channel


def test_profiles_and_scales_that_cannot_be_laid_out_are_refused(tmp_path: Path) -> None:
    raw = json.loads((SCENARIOS / "nanchang-2021.json").read_text())
    raw["services"]["offline_handled"] += 1
    (tmp_path / "bad.json").write_text(json.dumps(raw))

    with pytest.raises(PlanError, match="online \\+ offline"):
        Profile.load(tmp_path / "bad.json")
    with pytest.raises(PlanError, match="no employer"):
        build_plan(profile(), scale=0.00001, today=TODAY)
    with pytest.raises(PlanError, match="counter online"):
        build_plan(profile(), scale=0.001, today=TODAY, online_channels=frozenset({"web_hall", "counter"}))
