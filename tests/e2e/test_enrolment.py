"""Enrolment through the gateway: zero-touch feed, review queue, employees, contributions, figures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from contracts.codec import decode
from contracts.enrolment.events import ContributionAssessedV3, ContributionPaidV3, DeadlineBreachedV3
from contracts.identifiers import citizen_id_check_character, credit_code_check_character, pseudonym
from enrolment.application import people
from runtime.settings import RuntimeSettings
from runtime.workdays import local_date
from tests.conftest import Servers
from tests.stack import Stack, running_stack
from tests.waiting import eventually

STEEL = "91360102MA35L0XC0" + credit_code_check_character("91360102MA35L0XC0")
SHOP = "91360102MA35L0XC1" + credit_code_check_character("91360102MA35L0XC1")
BAD_CHECK = "91350211M0000XUF46"
FOSHAN = "91440604MA4W0XC02" + credit_code_check_character("91440604MA4W0XC02")  # an employer of region 44


def citizen(body17: str) -> str:
    return body17 + citizen_id_check_character(body17)


WORKER = citizen("36010219900307123")


def record(code: str, record_id: str, industry: str = "C3110", **extra: Any) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "credit_code": code,
        "name": f"Employer {record_id}",
        "division_code": "360102",
        "industry_code": industry,
        "established_on": "2026-06-01",
        "market_registered_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        **extra,
    }


@pytest.fixture
async def stack(servers: Servers, subject_root: str) -> AsyncIterator[Stack]:
    async with running_stack(servers, subject_root, services=("enrolment",)) as s:
        yield s


def feed_token(stack: Stack) -> dict[str, str]:
    return stack.token(kind="system", subject="market-feed", region="36")


async def get_employer(stack: Stack, code: str) -> dict[str, Any] | None:
    r = await stack.client.get(f"/v1/regions/36/employers/{code}", headers=stack.token())
    return r.json() if r.status_code == 200 else None


async def feed(stack: Stack, *records: dict[str, Any]) -> list[dict[str, Any]]:
    r = await stack.client.post(
        "/v1/regions/36/feeds/market-registrations", json={"records": list(records)}, headers=feed_token(stack)
    )
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    return results


async def test_a_feed_record_registers_its_employer_with_no_touch_and_a_matched_risk_class(stack: Stack) -> None:
    [result] = await feed(stack, record(STEEL, "r-1"))
    [again] = await feed(stack, record(STEEL, "r-1-resent"))
    employer = await eventually(lambda: get_employer(stack, STEEL))

    assert result["outcome"] == "registered"
    assert (result["risk_class"], Decimal(result["injury_rate"])) == (6, Decimal("0.013"))
    assert again["outcome"] == "unchanged"
    assert employer["route"] == "zero_touch"
    assert employer["channel"] == "system"
    assert employer["risk_class"] == 6
    pool = stack.services[("enrolment", "36")].resources.pool
    assert await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'EmployerRegistered'") == 1


async def test_a_bad_check_character_from_the_feed_is_held_for_review_but_refused_at_the_counter(stack: Stack) -> None:
    [held] = await feed(stack, record(BAD_CHECK, "r-2"))
    counter = await stack.client.post(
        "/v1/regions/36/employers",
        json={k: v for k, v in record(BAD_CHECK, "x").items() if k not in {"record_id", "market_registered_at"}},
        headers=stack.token(),
    )

    async def queued() -> list[Any] | None:
        r = await stack.client.get("/v1/regions/36/review-queue", headers=stack.token())
        return r.json() or None

    queue = await eventually(queued)
    assert held["outcome"] == "held_for_review"
    assert counter.status_code == 400
    assert counter.json()["errors"][0]["field"] == "body.credit_code"
    assert [(q["credit_code"], q["kind"]) for q in queue] == [(BAD_CHECK, "credit_code")]
    assert await get_employer(stack, BAD_CHECK) is None
    pool = stack.services[("enrolment", "36")].resources.pool
    deadline = "SELECT status FROM deadlines WHERE stream_id = $1 AND kind = 'employer_registration'"
    assert [r["status"] for r in await pool.fetch(deadline, f"employer-{BAD_CHECK}")] == ["pending"]

    approved = await stack.client.post(f"/v1/regions/36/review-queue/{BAD_CHECK}/approve", headers=stack.token())
    employer = await eventually(lambda: get_employer(stack, BAD_CHECK))
    assert approved.json()["outcome"] == "registered", approved.text
    assert employer["route"] == "zero_touch"
    remaining = await stack.client.get("/v1/regions/36/review-queue", headers=stack.token())
    assert [q for q in remaining.json() if q["kind"] == "credit_code"] == []
    assert [r["status"] for r in await pool.fetch(deadline, f"employer-{BAD_CHECK}")] == ["cancelled"]


async def test_an_industry_code_spanning_classes_goes_to_review_until_an_operator_assigns_the_class(
    stack: Stack,
) -> None:
    [result] = await feed(stack, record(SHOP, "r-3", industry="G59"))

    async def in_queue() -> list[Any] | None:
        r = await stack.client.get("/v1/regions/36/review-queue", headers=stack.token())
        return [q for q in r.json() if q["kind"] == "risk_class"] or None

    [item] = await eventually(in_queue)
    assigned = await stack.client.post(
        f"/v1/regions/36/employers/{SHOP}/injury-class",
        json={"credit_code": SHOP, "risk_class": 2, "tier": "1.2"},
        headers=stack.token(),
    )

    async def settled() -> dict[str, Any] | None:
        e = await get_employer(stack, SHOP)
        return e if e and e["risk_class"] == 2 else None

    employer = await eventually(settled)
    assert result["outcome"] == "registered" and result["risk_class"] is None
    assert sorted(item["candidates"]) == [2, 5]
    assert assigned.status_code == 200, assigned.text
    assert Decimal(assigned.json()["injury_rate"]) == Decimal("0.0048")
    assert employer["needs_review"] is False


async def test_employees_are_enrolled_with_a_clamped_base_and_never_twice_in_two_pooling_areas(
    servers: Servers, subject_root: str
) -> None:
    async with running_stack(servers, subject_root, services=("enrolment",), regions=("36", "44")) as stack:
        await feed(stack, record(STEEL, "r-4"))
        await eventually(lambda: get_employer(stack, STEEL))
        enrol = {
            "citizen_id": WORKER,
            "employer_credit_code": STEEL,
            "hired_on": "2026-07-01",
            "declared_monthly_wage_fen": 100_000,
        }
        first = await stack.client.post("/v1/regions/36/employees", json=enrol, headers=stack.token())
        await eventually(lambda: _enrolled(stack, "36"))
        await register_foshan(stack)
        elsewhere = await stack.client.post(
            "/v1/regions/44/employees",
            json={**enrol, "employer_credit_code": FOSHAN},
            headers=stack.token(region="44"),
        )
        twice = await stack.client.post("/v1/regions/36/employees", json=enrol, headers=stack.token())

    assert first.status_code == 201, first.text
    assert first.json()["clamped"] == "floor"
    assert first.json()["base_fen"] > 100_000
    assert elsewhere.status_code == 409
    assert elsewhere.json()["type"].endswith("/double-pension-enrolment")
    assert twice.status_code == 409


async def test_two_regions_enrolling_at_once_each_asking_the_other_are_answered_without_holding_their_databases(
    servers: Servers, subject_root: str
) -> None:
    """Each enrolment asks the other region whether the person holds a pension there. Asked with a
    database connection held, two busy regions each hold every connection of their pool while
    waiting for the other, whose answer needs one of its own: both wait until the question times out
    (503, pension-check-unavailable). The services here have four connections each."""
    employers = {"36": STEEL, "44": FOSHAN}
    async with running_stack(servers, subject_root, services=("enrolment",), regions=("36", "44")) as stack:
        for region, code in employers.items():
            registered = await stack.client.post(
                f"/v1/regions/{region}/employers",
                json={
                    "credit_code": code,
                    "name": f"Employer of {region}",
                    "division_code": "360102" if region == "36" else "440604",
                    "industry_code": "C3110",
                    "established_on": "2026-01-02",
                },
                headers=stack.token(region=region),
            )
            assert registered.status_code == 201, registered.text
        for region, code in employers.items():
            await eventually(lambda region=region, code=code: _employer_in(stack, region, code))

        async def enrol(region: str, n: int) -> Any:
            body17 = ("360102" if region == "36" else "440604") + f"19900307{n:03d}"
            return await stack.client.post(
                f"/v1/regions/{region}/employees",
                json={
                    "citizen_id": citizen(body17),
                    "employer_credit_code": employers[region],
                    "hired_on": "2026-07-01",
                    "declared_monthly_wage_fen": 500_000,
                },
                headers=stack.token(region=region),
            )

        answers = await asyncio.gather(*(enrol(region, n) for n in range(100, 116) for region in employers))

    assert [a.status_code for a in answers] == [201] * 32, [a.text for a in answers if a.status_code != 201][:2]


async def test_an_enrolment_file_decides_each_line_on_its_own_and_a_retry_enrols_no_one_twice(
    servers: Servers, subject_root: str
) -> None:
    """A file of enrolments (批量增员): each line decided as one enrolment is, in the order sent, on
    what the lines before left (someone on two lines), a refused line answered with its problem and
    the others enrolled; the pension question to the other region asked for the file's people; the
    file's channel counted for each; a retry with the same key answers the first outcome and a second
    file enrols no one twice. An employer sends only its own lines."""
    other, newcomer, third = citizen("36010219850611242"), citizen("36010219920101331"), citizen("36010219880202113")
    async with running_stack(servers, subject_root, services=("enrolment",), regions=("36", "44")) as stack:
        today = local_date(stack.clock.now())
        hired = (today - timedelta(days=3)).isoformat()
        await feed(stack, record(STEEL, "r-21"), record(SHOP, "r-22"))
        await register_foshan(stack)
        for code in (STEEL, SHOP):
            await eventually(lambda code=code: _employer_in(stack, "36", code))
        there = await stack.client.post(
            "/v1/regions/44/employees",
            json={
                "citizen_id": WORKER,
                "employer_credit_code": FOSHAN,
                "hired_on": hired,
                "declared_monthly_wage_fen": 500_000,
            },
            headers=stack.token(region="44"),
        )
        assert there.status_code == 201, there.text

        def line(who: str, employer: str, **extra: Any) -> dict[str, Any]:
            return {
                "citizen_id": who,
                "employer_credit_code": employer,
                "hired_on": hired,
                "declared_monthly_wage_fen": 500_000,
                **extra,
            }

        unknown = "91360102MA35L0XC2" + credit_code_check_character("91360102MA35L0XC2")
        lines = [
            line(other, STEEL),
            line(other, SHOP, schemes=["work_injury"]),  # a second job, without a pension: enrolled
            line(newcomer, SHOP),
            line(WORKER, STEEL),  # holds a pension in region 44 this month
            line(third, unknown),
            line(third, STEEL, hired_on=(today + timedelta(days=5)).isoformat()),
            line(newcomer, STEEL),  # a second pension, after the line above enrolled one
        ]
        url = "/v1/regions/36/employees/batch"
        file = {"X-Channel": "mobile_app", "Idempotency-Key": "enrolment-file-1"}
        first = await stack.client.post(url, json={"enrolments": lines}, headers={**stack.token(), **file})
        retried = await stack.client.post(url, json={"enrolments": lines}, headers={**stack.token(), **file})
        again = await stack.client.post(url, json={"enrolments": lines}, headers=stack.token())
        twice = await stack.client.post(url, json={"enrolments": [lines[0], lines[0]]}, headers=stack.token())
        too_many = await stack.client.post(
            url,
            json={"enrolments": [line(citizen(f"36010219900101{n:03d}"), STEEL) for n in range(101)]},
            headers=stack.token(),
        )
        steel = stack.token(kind="employer", subject=STEEL)
        not_its_own = await stack.client.post(url, json={"enrolments": lines[:2]}, headers=steel)
        its_own = await stack.client.post(
            url, json={"enrolments": [line(third, STEEL)]}, headers={**steel, "X-Channel": "web_hall"}
        )
        pool = stack.services[("enrolment", "36")].resources.pool
        payroll = await pool.fetch("SELECT employer_credit_code, person_ref, schemes FROM payroll ORDER BY 1, 2")

        counted = await eventually(handled_by_channel(pool, "EmployeeEnrolled", 4))

    salt = RuntimeSettings().pseudonym_salt.encode()
    ref = {who: pseudonym(who, salt=salt) for who in (WORKER, other, newcomer, third)}
    assert first.status_code == 200, first.text
    answer = first.json()
    outcomes = [
        (a["person_ref"], a.get("schemes"), a.get("problem", {}).get("type", "").rsplit("/", 1)[-1])
        for a in answer["enrolments"]
    ]
    assert outcomes == [
        (ref[other], ["pension", "work_injury", "unemployment"], ""),
        (ref[other], ["work_injury"], ""),
        (ref[newcomer], ["pension", "work_injury", "unemployment"], ""),
        (ref[WORKER], None, "double-pension-enrolment"),
        (ref[third], None, "employer-not-found"),
        (ref[third], None, "hired-in-future"),
        (ref[newcomer], None, "double-pension-enrolment"),
    ]
    assert [a["problem"]["status"] for a in answer["enrolments"] if "problem" in a] == [409, 404, 422, 409]
    assert (answer["enrolled"], answer["refused"]) == (3, 4)
    assert retried.json() == answer
    again_types = [a.get("problem", {}).get("type", "").rsplit("/", 1)[-1] for a in again.json()["enrolments"]]
    assert again_types[:3] == ["already-enrolled"] * 3 and again.json()["enrolled"] == 0, again.text
    assert [(r.status_code, r.json()["errors"][0]["field"]) for r in (twice, too_many)] == [
        (400, "body.enrolments"),
        (400, "body.enrolments"),
    ], (twice.text, too_many.text)
    assert not_its_own.status_code == 403, not_its_own.text
    assert (its_own.status_code, its_own.json()["enrolled"]) == (200, 1), its_own.text
    assert [(r["employer_credit_code"], r["person_ref"], list(r["schemes"])) for r in payroll] == sorted(
        [
            (SHOP, ref[other], ["work_injury"]),
            (SHOP, ref[newcomer], ["pension", "work_injury", "unemployment"]),
            (STEEL, ref[other], ["pension", "work_injury", "unemployment"]),
            (STEEL, ref[third], ["pension", "work_injury", "unemployment"]),
        ]
    )
    assert counted == {"mobile_app": 3, "web_hall": 1}


async def test_an_end_of_employment_file_ends_each_line_on_its_own_and_closes_the_payroll_with_them(
    stack: Stack,
) -> None:
    """A file of ends of employment (批量减员): each line decided as one end is, in the order sent, a
    refused line answered with its problem and the others ended, their payroll rows closed in the
    same transaction; the file's channel counted for each; a retry with the same key answers the
    first outcome; an employer sends only its own lines."""
    today = local_date(stack.clock.now())
    hired_on = f"{_month(today, -2)}-01"
    other = citizen("36010219850611242")
    await feed(stack, record(STEEL, "r-31"), record(SHOP, "r-32"))
    await eventually(lambda: get_employer(stack, STEEL))
    await eventually(lambda: get_employer(stack, SHOP))
    hires = [(WORKER, STEEL, None), (WORKER, SHOP, ["work_injury"]), (other, STEEL, None)]
    enrolled = await stack.client.post(
        "/v1/regions/36/employees/batch",
        json={
            "enrolments": [
                {
                    "citizen_id": who,
                    "employer_credit_code": employer,
                    "hired_on": hired_on,
                    "declared_monthly_wage_fen": 600_000,
                    **({"schemes": schemes} if schemes else {}),
                }
                for who, employer, schemes in hires
            ]
        },
        headers=stack.token(),
    )
    assert enrolled.json()["enrolled"] == 3, enrolled.text
    last_month_end = (date.fromisoformat(f"{_month(today, 0)}-01") - timedelta(days=1)).isoformat()
    lines = [
        {"citizen_id": WORKER, "employer_credit_code": STEEL, "ended_on": last_month_end},
        {"citizen_id": WORKER, "employer_credit_code": SHOP, "ended_on": today.isoformat()},
        {"citizen_id": other, "employer_credit_code": SHOP, "ended_on": today.isoformat()},
        {"citizen_id": other, "employer_credit_code": STEEL, "ended_on": f"{_month(today, -3)}-01"},
    ]
    url = "/v1/regions/36/employments/end/batch"
    file = {"X-Channel": "kiosk", "Idempotency-Key": "end-file-1"}
    first = await stack.client.post(url, json={"ends": lines}, headers={**stack.token(), **file})
    retried = await stack.client.post(url, json={"ends": lines}, headers={**stack.token(), **file})
    again = await stack.client.post(url, json={"ends": lines[:2]}, headers=stack.token())
    twice = await stack.client.post(url, json={"ends": [lines[0], lines[0]]}, headers=stack.token())
    not_its_own = await stack.client.post(
        url, json={"ends": lines[:2]}, headers=stack.token(kind="employer", subject=SHOP)
    )
    pool = stack.services[("enrolment", "36")].resources.pool
    payroll = await pool.fetch("SELECT person_ref, employer_credit_code, ended_on FROM payroll")

    counted = await eventually(handled_by_channel(pool, "EmploymentEnded", 2))

    salt = RuntimeSettings().pseudonym_salt.encode()
    ref = {who: pseudonym(who, salt=salt) for who in (WORKER, other)}
    assert first.status_code == 200, first.text
    answer = first.json()
    assert [
        (
            a["person_ref"],
            a.get("ended_on"),
            a.get("problem", {}).get("type", "").rsplit("/", 1)[-1],
            a.get("problem", {}).get("status"),
        )
        for a in answer["ends"]
    ] == [
        (ref[WORKER], last_month_end, "", None),
        (ref[WORKER], today.isoformat(), "", None),
        (ref[other], None, "not-enrolled", 404),
        (ref[other], None, "invalid-date", 422),
    ]
    assert (answer["ended"], answer["refused"]) == (2, 2)
    assert retried.json() == answer
    assert (again.json()["ended"], again.json()["refused"]) == (0, 2), again.text
    assert (twice.status_code, twice.json()["errors"][0]["field"]) == (400, "body.ends"), twice.text
    assert not_its_own.status_code == 403, not_its_own.text
    assert sorted((r["person_ref"], r["employer_credit_code"], r["ended_on"]) for r in payroll) == sorted(
        [
            (ref[WORKER], STEEL, date.fromisoformat(last_month_end)),
            (ref[WORKER], SHOP, today),
            (ref[other], STEEL, None),
        ]
    )
    assert counted == {"kiosk": 2}


def handled_by_channel(pool: Any, event_type: str, total: int) -> Callable[[], Awaitable[dict[str, int] | None]]:
    """The handled services of an event type by channel, once `total` of them are counted."""

    async def counted() -> dict[str, int] | None:
        rows = await pool.fetch(
            "SELECT channel, sum(handled)::int AS n FROM handled_services WHERE event_type = $1 GROUP BY channel",
            event_type,
        )
        found = {r["channel"]: r["n"] for r in rows}
        return found if sum(found.values()) == total else None

    return counted


async def _enrolled(stack: Stack, region: str) -> bool:
    r = await stack.client.post(
        f"/v1/regions/{region}/people/lookup", json={"citizen_id": WORKER}, headers=stack.token(region=region)
    )
    return r.status_code == 200


async def register_foshan(stack: Stack) -> None:
    """Foshan Ceramics, an employer of region 44, registered at a counter there and readable."""
    r = await stack.client.post(
        "/v1/regions/44/employers",
        json={
            "credit_code": FOSHAN,
            "name": "Foshan Ceramics",
            "division_code": "440604",
            "industry_code": "C3071",
            "established_on": "2026-01-02",
        },
        headers=stack.token(region="44"),
    )
    assert r.status_code == 201, r.text
    await eventually(lambda: _employer_in(stack, "44", FOSHAN))


async def _employer_in(stack: Stack, region: str, code: str) -> bool:
    r = await stack.client.get(f"/v1/regions/{region}/employers/{code}", headers=stack.token(region=region))
    return r.status_code == 200


@pytest.mark.parametrize(
    ("change", "status", "field_or_type"),
    [
        ({"citizen_id": "36010219900307123X"}, 400, "body.citizen_id"),
        ({"declared_monthly_wage_fen": -5}, 400, "body.declared_monthly_wage_fen"),
        ({"schemes": ["maternity"]}, 422, "scheme-not-offered"),
        ({"schemes": ["space_travel"]}, 400, "body.schemes.0"),
        ({"hired_on": "2026-02-30"}, 400, "body.hired_on"),
        ({"employer_credit_code": SHOP}, 404, "employer-not-found"),
    ],
)
async def test_bad_enrolments_get_a_clear_error_and_store_nothing(
    stack: Stack, change: dict[str, Any], status: int, field_or_type: str
) -> None:
    await feed(stack, record(STEEL, "r-5"))
    await eventually(lambda: get_employer(stack, STEEL))
    body = {
        "citizen_id": WORKER,
        "employer_credit_code": STEEL,
        "hired_on": "2026-07-01",
        "declared_monthly_wage_fen": 800_000,
    }

    r = await stack.client.post("/v1/regions/36/employees", json={**body, **change}, headers=stack.token())

    assert r.status_code == status, r.text
    problem = r.json()
    found = [e["field"] for e in problem.get("errors", [])] + [problem["type"].rsplit("/", 1)[-1]]
    assert field_or_type in found
    pool = stack.services[("enrolment", "36")].resources.pool
    assert await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'EmployeeEnrolled'") == 0


async def test_contributions_are_assessed_paid_late_with_a_fee_and_flagged_overdue_late_or_when_time_passes(
    stack: Stack,
) -> None:
    # Months counted from the stack's clock: "late" fell due on the 15th of last month, "current"
    # falls due on the 15th of next month.
    today = local_date(stack.clock.now())
    late, current = _month(today, -2), _month(today, 0)
    await feed(stack, record(STEEL, "r-6"))
    await eventually(lambda: get_employer(stack, STEEL))
    enrol = {
        "citizen_id": WORKER,
        "employer_credit_code": STEEL,
        "hired_on": f"{late}-01",
        "declared_monthly_wage_fen": 800_000,
    }
    assert (await stack.client.post("/v1/regions/36/employees", json=enrol, headers=stack.token())).status_code == 201
    await eventually(lambda: _enrolled(stack, "36"))

    answers = {}
    for month in (late, current):
        r = await stack.client.post(
            "/v1/regions/36/contributions/assessments",
            json={"employer_credit_code": STEEL, "month": month},
            headers=stack.token(),
        )
        answers[month] = r.json()
    unknown = await stack.client.post(
        "/v1/regions/36/contributions/assessments",
        json={"employer_credit_code": SHOP, "month": late},
        headers=stack.token(),
    )
    assert (unknown.status_code, unknown.json()["type"].rsplit("/", 1)[-1]) == (404, "employer-not-found")
    # Assessed after its due date, the late month is overdue at once; the current one gets a timer.
    assert (answers[late]["assessed"], answers[late]["overdue"]) == (1, 1), answers
    assert (answers[current]["assessed"], answers[current]["overdue"]) == (1, 0)
    enrolment = stack.services[("enrolment", "36")]
    pool = enrolment.resources.pool
    assert await pool.fetchval("SELECT count(*) FROM deadlines WHERE kind LIKE 'contribution_due:%'") == 1
    late_due = date.fromisoformat(f"{_month(today, -1)}-15")
    paid = await stack.client.post(
        "/v1/regions/36/contributions/payments",
        json={"employer_credit_code": STEEL, "month": late, "paid_on": (late_due + timedelta(days=10)).isoformat()},
        headers=stack.token(),
    )
    # Time passes: the current month falls due and stays unpaid.
    stack.clock.advance(days=400)
    assert enrolment.deadlines is not None
    await enrolment.deadlines.run_once()

    async def history() -> dict[str, Any] | None:
        r = await stack.client.post("/v1/regions/36/people/lookup", json={"citizen_id": WORKER}, headers=stack.token())
        body: dict[str, Any] = r.json()
        months = {c["month"]: c for c in body["contributions"]}
        return body if len(months) == 2 and months[current]["overdue"] and months[late]["paid_on"] else None

    person = await eventually(history)
    months = {c["month"]: c for c in person["contributions"]}
    paid_late = months[late]
    due = paid_late["employer_total_fen"] + paid_late["worker_total_fen"]
    assert paid.status_code == 200, paid.text
    # Paid 10 days after its due date: 10 days at 0.05% a day.
    assert paid_late["late_fee_fen"] == round(due * 0.0005 * 10)
    assert paid_late["account_fen"] == round(paid_late["base_fen"] * 0.08)
    assert paid_late["overdue"] is True
    assert months[current]["overdue"] is True
    assert person["account_total_fen"] == paid_late["account_fen"]

    async def breached() -> list[date] | None:
        found = await published_events(stack, "deadline_breached", DeadlineBreachedV3)
        due = sorted(line.due_on for b in found if b.data.kind == "contribution_due" for line in b.data.lines)
        return due if len(due) == 2 else None

    # The same breach leaves the service either way, at the assessment or when the timer fires.
    assert await eventually(breached) == [late_due, date.fromisoformat(f"{_month(today, 1)}-15")]

    # The history leaves the service as public events, for the transfer service of the region (the
    # relay may send them after the view has them).
    async def assessed() -> list[Any] | None:
        found = await published_events(stack, "contribution_assessed")
        return found if len(found) >= 2 else None

    published = await eventually(assessed)
    assert sorted(p.data.month for p in published) == [late, current]
    assert [line.citizen_id for p in published for line in p.data.lines] == [WORKER, WORKER]
    assert all(line.account_fen == paid_late["account_fen"] for p in published for line in p.data.lines)


async def test_a_month_is_assessed_for_a_batch_of_employers_at_once_each_person_and_job_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The monthly run over many employers: their people assessed together whoever employs them,
    someone on two of the payrolls once for each job; nothing assessed twice by a second run, and a
    batch naming an employer not registered here, or with more people than a request assesses,
    refused whole."""
    today = local_date(stack.clock.now())
    month = _month(today, 0)
    other = citizen("36010219850611242")
    await feed(stack, record(STEEL, "r-9"), record(SHOP, "r-10"))
    await eventually(lambda: get_employer(stack, SHOP))
    await eventually(lambda: get_employer(stack, STEEL))
    hired = f"{_month(today, -1)}-01"
    for who, employer, schemes in ((WORKER, STEEL, None), (WORKER, SHOP, ["work_injury"]), (other, SHOP, None)):
        body = {
            "citizen_id": who,
            "employer_credit_code": employer,
            "hired_on": hired,
            "declared_monthly_wage_fen": 800_000,
        }
        r = await stack.client.post(
            "/v1/regions/36/employees",
            json={**body, **({"schemes": schemes} if schemes else {})},
            headers=stack.token(),
        )
        assert r.status_code == 201, r.text
    url = "/v1/regions/36/contributions/assessments/batch"
    pool = stack.services[("enrolment", "36")].resources.pool

    async def assessed_rows() -> int:
        return int(await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'ContributionAssessed'"))

    unknown = "91360102MA35L0XC2" + credit_code_check_character("91360102MA35L0XC2")
    refused = await stack.client.post(
        url, json={"month": month, "employer_credit_codes": [STEEL, unknown]}, headers=stack.token()
    )
    with monkeypatch.context() as limited:
        limited.setattr(people, "PEOPLE_PER_BATCH", 1)  # the two employers have two people
        too_large = await stack.client.post(
            url, json={"month": month, "employer_credit_codes": [STEEL, SHOP]}, headers=stack.token()
        )
    rows_after_refusal = await assessed_rows()
    first = await stack.client.post(
        url, json={"month": month, "employer_credit_codes": [SHOP, STEEL]}, headers=stack.token()
    )
    again = await stack.client.post(
        url, json={"month": month, "employer_credit_codes": [STEEL, SHOP]}, headers=stack.token()
    )
    twice = await stack.client.post(
        url, json={"month": month, "employer_credit_codes": [STEEL, STEEL]}, headers=stack.token()
    )
    too_many = await stack.client.post(
        url, json={"month": month, "employer_credit_codes": [STEEL] * 101}, headers=stack.token()
    )

    assert (refused.status_code, refused.json()["type"].rsplit("/", 1)[-1]) == (404, "employer-not-found")
    assert (too_large.status_code, too_large.json()["type"].rsplit("/", 1)[-1]) == (422, "assessment-batch-too-large")
    assert rows_after_refusal == 0
    assert first.status_code == 200, first.text
    assert first.json() == {"month": month, "employers": 2, "assessed": 3, "overdue": 0}
    assert again.json() == {"month": month, "employers": 2, "assessed": 0, "overdue": 0}
    assert await assessed_rows() == 3
    assert [(r.status_code, r.json()["errors"][0]["field"]) for r in (twice, too_many)] == [
        (400, "body.employer_credit_codes"),
        (400, "body.employer_credit_codes"),
    ], (twice.text, too_many.text)
    # A timer per person and job, under each employer's month; the batch's lines leave as one message
    # (one chunk), each with its employer.
    timers = await pool.fetch("SELECT kind, count(*) AS n FROM deadlines GROUP BY kind ORDER BY kind")
    assert {r["kind"]: r["n"] for r in timers} == {
        f"contribution_due:{SHOP}:{month}": 2,
        f"contribution_due:{STEEL}:{month}": 1,
    }

    async def messages() -> list[list[tuple[str, str]]] | None:
        found = await published_events(stack, "contribution_assessed")
        lines = [sorted((line.employer_credit_code, line.citizen_id) for line in p.data.lines) for p in found]
        return lines if found else None

    assert await eventually(messages) == [sorted([(SHOP, WORKER), (SHOP, other), (STEEL, WORKER)])]


async def test_a_batch_retried_with_its_key_answers_as_first_whatever_changed_since(stack: Stack) -> None:
    """A batch that ran to the end keeps its answer: retried with the same Idempotency-Key after
    someone joined the payroll it covers, it answers what it answered first (not a second run over
    the new payroll: nobody paid, the newcomer unassessed); the key with another batch is refused."""
    today = local_date(stack.clock.now())
    month = _month(today, 0)
    newcomer = citizen("36010219920101331")
    await feed(stack, record(STEEL, "r-41"))
    await eventually(lambda: get_employer(stack, STEEL))

    async def enrol(who: str) -> None:
        body = {"citizen_id": who, "employer_credit_code": STEEL, "hired_on": f"{month}-01"}
        r = await stack.client.post(
            "/v1/regions/36/employees", json={**body, "declared_monthly_wage_fen": 700_000}, headers=stack.token()
        )
        assert r.status_code == 201, r.text

    await enrol(WORKER)
    assess = {"month": month, "employer_credit_codes": [STEEL]}
    assessed = await stack.client.post(
        "/v1/regions/36/contributions/assessments/batch", json=assess, headers=stack.token()
    )
    assert assessed.json()["assessed"] == 1, assessed.text
    url, key = "/v1/regions/36/contributions/payments/batch", {"Idempotency-Key": "collection-file-41"}
    lines = [{"employer_credit_code": STEEL, "month": month, "paid_on": today.isoformat()}]
    first = await stack.client.post(url, json={"payments": lines}, headers={**stack.token(), **key})
    await enrol(newcomer)  # on the payroll now, after the month's assessment
    retried = await stack.client.post(url, json={"payments": lines}, headers={**stack.token(), **key})
    other = [{**lines[0], "paid_on": (today - timedelta(days=1)).isoformat()}]
    reused = await stack.client.post(url, json={"payments": other}, headers={**stack.token(), **key})

    assert first.status_code == 200, first.text
    assert [(a["paid"], a["unassessed"]) for a in first.json()["payments"]] == [(1, 0)]
    assert (retried.status_code, retried.json()) == (200, first.json())
    assert (reused.status_code, reused.json()["type"].rsplit("/", 1)[-1]) == (422, "idempotency-key-reused")


async def test_a_collection_file_pays_many_employers_months_at_once_and_a_retry_pays_nothing_twice(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A day's collection file: a line per employer and month, their people paid together whoever
    employs them (someone on two lines paid for each), late fees worked out per line, the months'
    timers cancelled, every payment counted under the file's channel. Someone the month's assessment
    did not reach is counted, not paid; a file naming an employer not registered here, or with more
    people than a request pays, is refused whole; a retried file pays nothing twice."""
    today = local_date(stack.clock.now())
    late, current = _month(today, -2), _month(today, 0)
    other, newcomer = citizen("36010219850611242"), citizen("36010219920101331")
    await feed(stack, record(STEEL, "r-11"), record(SHOP, "r-12"))
    await eventually(lambda: get_employer(stack, SHOP))
    await eventually(lambda: get_employer(stack, STEEL))

    async def enrol(who: str, employer: str, hired: str, schemes: list[str] | None = None) -> None:
        body = {"citizen_id": who, "employer_credit_code": employer, "hired_on": hired}
        r = await stack.client.post(
            "/v1/regions/36/employees",
            json={**body, "declared_monthly_wage_fen": 800_000, **({"schemes": schemes} if schemes else {})},
            headers=stack.token(),
        )
        assert r.status_code == 201, r.text

    for who, employer, schemes in ((WORKER, STEEL, None), (WORKER, SHOP, ["work_injury"]), (other, SHOP, None)):
        await enrol(who, employer, f"{late}-01", schemes)
    for month in (late, current):
        r = await stack.client.post(
            "/v1/regions/36/contributions/assessments/batch",
            json={"month": month, "employer_credit_codes": [STEEL, SHOP]},
            headers=stack.token(),
        )
        assert r.json()["assessed"] == 3, r.text
    await enrol(newcomer, STEEL, f"{current}-01")  # after the month's assessment: nothing to pay for them yet
    pool = stack.services[("enrolment", "36")].resources.pool

    async def paid_rows() -> int:
        return int(await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'ContributionPaid'"))

    url = "/v1/regions/36/contributions/payments/batch"
    late_paid_on = date.fromisoformat(f"{_month(today, -1)}-15") + timedelta(days=10)
    lines = [
        {"employer_credit_code": STEEL, "month": current, "paid_on": today.isoformat()},
        {"employer_credit_code": SHOP, "month": current, "paid_on": today.isoformat()},
        {"employer_credit_code": SHOP, "month": late, "paid_on": late_paid_on.isoformat()},
    ]
    unknown = "91360102MA35L0XC2" + credit_code_check_character("91360102MA35L0XC2")
    refused = await stack.client.post(
        url,
        json={"payments": [*lines, {"employer_credit_code": unknown, "month": late, "paid_on": today.isoformat()}]},
        headers=stack.token(),
    )
    with monkeypatch.context() as limited:
        limited.setattr(people, "PEOPLE_PER_BATCH", 2)  # the lines have three people
        too_large = await stack.client.post(url, json={"payments": lines}, headers=stack.token())
    rows_after_refusal = await paid_rows()
    file = {"X-Channel": "mobile_app", "Idempotency-Key": "collection-file-1"}
    first = await stack.client.post(url, json={"payments": lines}, headers={**stack.token(), **file})
    retried = await stack.client.post(url, json={"payments": lines}, headers={**stack.token(), **file})
    again = await stack.client.post(url, json={"payments": lines}, headers=stack.token())
    twice = await stack.client.post(url, json={"payments": [lines[0], lines[0]]}, headers=stack.token())
    too_many = await stack.client.post(url, json={"payments": lines[:1] * 101}, headers=stack.token())

    assert (refused.status_code, refused.json()["type"].rsplit("/", 1)[-1]) == (404, "employer-not-found")
    assert (too_large.status_code, too_large.json()["type"].rsplit("/", 1)[-1]) == (422, "payment-batch-too-large")
    assert rows_after_refusal == 0
    assert first.status_code == 200, first.text
    answer = first.json()
    assert [(a["employer_credit_code"], a["month"], a["paid"], a["unassessed"]) for a in answer["payments"]] == [
        (STEEL, current, 1, 1),
        (SHOP, current, 2, 0),
        (SHOP, late, 2, 0),
    ]
    fees = [a["late_fee_fen"] for a in answer["payments"]]
    assert fees[:2] == [0, 0] and fees[2] > 0
    assert (answer["paid"], answer["late_fee_fen"]) == (5, fees[2])
    assert retried.json() == answer
    assert [a["paid"] for a in again.json()["payments"]] == [0, 0, 0]
    assert await paid_rows() == 5
    assert [(r.status_code, r.json()["errors"][0]["field"]) for r in (twice, too_many)] == [
        (400, "body.payments"),
        (400, "body.payments"),
    ], (twice.text, too_many.text)
    # The current month's timers are settled for those paid; the newcomer was never assessed (no timer).
    pending = await pool.fetchval(
        "SELECT count(*) FROM deadlines WHERE status = 'pending' AND kind LIKE 'contribution_due:%'"
    )
    assert pending == 0

    # Ten days late on the late month, each person's fee as the single payment works it out.
    async def fees_of_late_month() -> list[int] | None:
        found = []
        for who in (WORKER, other):
            r = await stack.client.post("/v1/regions/36/people/lookup", json={"citizen_id": who}, headers=stack.token())
            paid = [c for c in r.json()["contributions"] if c["month"] == late and c["employer_credit_code"] == SHOP]
            if not paid or not paid[0]["paid_on"]:
                return None
            due = paid[0]["employer_total_fen"] + paid[0]["worker_total_fen"]
            assert paid[0]["late_fee_fen"] == round(due * 0.0005 * 10)
            found.append(paid[0]["late_fee_fen"])
        return found

    assert sum(await eventually(fees_of_late_month)) == fees[2]

    # Every payment counted as a handled service of the file's channel; each month of the file (one
    # chunk) leaves as one message, whatever its employers.
    assert await eventually(handled_by_channel(pool, "ContributionPaid", 5)) == {"mobile_app": 5}

    async def messages() -> dict[str, list[str]] | None:
        found = await published_events(stack, "contribution_paid", ContributionPaidV3)
        return (
            {p.data.month: sorted(line.employer_credit_code for line in p.data.lines) for p in found}
            if len(found) == 2
            else None
        )

    assert await eventually(messages) == {current: sorted([SHOP, SHOP, STEEL]), late: [SHOP, SHOP]}


async def test_a_chunk_of_a_month_leaves_as_one_message_with_each_line_s_employer(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's people go a chunk per transaction, each employer's together (a chunk reads few
    employers), and a chunk's month (assessed, or paid in a collection file) leaves in one message
    of lines, each with its employer, not one per person: here two employers whose people alternate
    by ref, two people a chunk, so two messages of one employer's two people each."""
    month = _month(local_date(stack.clock.now()), 0)
    salt = RuntimeSettings().pseudonym_salt.encode()
    people_by_ref = sorted((citizen(f"36010219900101{n:03d}") for n in range(4)), key=lambda c: pseudonym(c, salt=salt))
    employers = {who: (STEEL, SHOP)[n % 2] for n, who in enumerate(people_by_ref)}
    await feed(stack, record(STEEL, "r-13"), record(SHOP, "r-14"))
    await eventually(lambda: get_employer(stack, SHOP))
    await eventually(lambda: get_employer(stack, STEEL))
    for who, employer in employers.items():
        body = {"citizen_id": who, "employer_credit_code": employer, "hired_on": f"{month}-01"}
        r = await stack.client.post(
            "/v1/regions/36/employees", json={**body, "declared_monthly_wage_fen": 800_000}, headers=stack.token()
        )
        assert r.status_code == 201, r.text
    monkeypatch.setattr(people, "CHUNK", 2)
    assessed = await stack.client.post(
        "/v1/regions/36/contributions/assessments/batch",
        json={"month": month, "employer_credit_codes": [STEEL, SHOP]},
        headers=stack.token(),
    )
    lines = [{"employer_credit_code": e, "month": month, "paid_on": f"{month}-01"} for e in (STEEL, SHOP)]
    paid = await stack.client.post(
        "/v1/regions/36/contributions/payments/batch", json={"payments": lines}, headers=stack.token()
    )
    assert (assessed.json()["assessed"], paid.json()["paid"]) == (4, 4), (assessed.text, paid.text)

    def messages_of(name: str, model: Any) -> Callable[[], Awaitable[list[list[tuple[str, str]]] | None]]:
        """Each message's lines as (employer, person's ref), once all four lines have left."""

        async def found() -> list[list[tuple[str, str]]] | None:
            messages = await published_events(stack, name, model)
            if sum(len(m.data.lines) for m in messages) < 4:
                return None
            return sorted(
                sorted((line.employer_credit_code, line.person_ref) for line in m.data.lines) for m in messages
            )

        return found

    wanted = sorted(
        sorted((e, pseudonym(who, salt=salt)) for who in employers if employers[who] == e) for e in (STEEL, SHOP)
    )
    assert await eventually(messages_of("contribution_assessed", ContributionAssessedV3)) == wanted
    assert await eventually(messages_of("contribution_paid", ContributionPaidV3)) == wanted


async def published_events(stack: Stack, name: str, model: Any = ContributionAssessedV3, version: int = 3) -> list[Any]:
    root = stack.settings.subject_root
    js = stack.services[("enrolment", "36")].resources.js
    stream = f"{root.upper()}_ENROLMENT_36"
    info = await js.stream_info(stream)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(stream, seq)
        if msg.subject == f"{root}.36.enrolment.evt.{name}.v{version}":
            found.append(decode(msg.data, model))
    return found


async def test_the_figures_count_routes_schemes_and_classes(stack: Stack) -> None:
    await feed(stack, record(STEEL, "r-7"))
    await stack.client.post(
        "/v1/regions/36/employers",
        json={
            "credit_code": SHOP,
            "name": "Corner Shop",
            "division_code": "360102",
            "industry_code": "F5211",
            "established_on": "2026-03-01",
        },
        headers=stack.token(),
    )
    today = local_date(datetime.now(UTC))

    async def figures() -> dict[str, Any] | None:
        r = await stack.client.get(
            "/v1/regions/36/statistics/enrolment",
            params={"first": (today - timedelta(days=1)).isoformat(), "last": (today + timedelta(days=1)).isoformat()},
            headers=stack.token(),
        )
        body: dict[str, Any] = r.json()
        return body if sum(body["employers_by_route"].values()) == 2 else None

    found = await eventually(figures)
    assert found["employers_by_route"] == {"zero_touch": 1, "manual": 1}
    # The registry registered it an hour before the feed arrived (the stack's clock started just before).
    assert 3400 <= found["median_feed_to_registered_seconds"] <= 3600
    classes = {(c["risk_class"], c["tier"]) for c in found["employers_by_class_and_tier"]}
    assert classes == {("6", "1.00"), ("2", "1.00")}

    # Both were registered long after the 30 days from their establishment (June, March): breach
    # events, published when the deadline worker has fired and the relay sent them, maybe after the view.
    async def breaches() -> list[tuple[str, str]] | None:
        published = await published_events(stack, "deadline_breached", DeadlineBreachedV3)
        found = sorted((b.data.kind, line.stream_id) for b in published for line in b.data.lines)
        return found if len(found) >= 2 else None

    assert await eventually(breaches) == [
        ("employer_registration", f"employer-{STEEL}"),
        ("employer_registration", f"employer-{SHOP}"),
    ]


def _month(today: date, offset: int) -> str:
    """The month `offset` months from today's, as YYYY-MM."""
    index = today.year * 12 + today.month - 1 + offset
    return f"{index // 12}-{index % 12 + 1:02d}"
