"""Wage arrears (欠薪) through the gateway on the real servers: a complaint routed across two districts
to payment, closure and review; duplicates; bad input; closing with wages unpaid; supervision when
time runs past the 5- and 60-working-day limits; a worker's own view; the figures for a date range."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest

from contracts.identifiers import citizen_id_check_character, credit_code_check_character
from gateway.auth import issue_token
from runtime.workdays import local_date
from tests.conftest import Servers
from tests.stack import Stack, running_stack
from tests.waiting import eventually

BUILDER = "91360111MA38QW1K0" + credit_code_check_character("91360111MA38QW1K0")  # employer in Qingshanhu
GENERAL = "91360113MA39HT2N5" + credit_code_check_character("91360113MA39HT2N5")  # general contractor
CANTEEN = "91360102MA35L0XC1" + credit_code_check_character("91360102MA35L0XC1")


def citizen(body17: str) -> str:
    return body17 + citizen_id_check_character(body17)


ZHANG = citizen("36011119880512301")
LI = citizen("36010319950101452")
WANG = citizen("36012119920815673")

QINGSHANHU, DONGHU, HONGGUTAN, XIHU = "360111", "360102", "360113", "360103"
BASE = "/v1/regions/36/arrears"


@pytest.fixture
async def stack(servers: Servers, subject_root: str) -> AsyncIterator[Stack]:
    async with running_stack(servers, subject_root, services=("arrears",), regions=("36",)) as s:
        yield s


def worker_token(stack: Stack, citizen_id: str, channel: str = "mobile_app") -> dict[str, str]:
    token = issue_token(stack.settings.jwt_secret, kind="citizen", subject="-", citizen_id=citizen_id)
    return {"Authorization": f"Bearer {token}", "X-Channel": channel}


def clerk(stack: Stack, channel: str = "counter") -> dict[str, str]:
    return {**stack.token(), "X-Channel": channel}


def today(stack: Stack) -> date:
    return local_date(stack.clock.now())


def complaint(stack: Stack, *workers: tuple[str, int], **changes: Any) -> dict[str, Any]:
    """Workers owed wages by the builder for the three months before last month."""
    end = today(stack).replace(day=1) - timedelta(days=1)
    body: dict[str, Any] = {
        "received_by": QINGSHANHU,
        "employer_credit_code": BUILDER,
        "employer_name": "南昌某建筑劳务有限公司",
        "division_code": DONGHU,
        "industry_code": "E4700",
        "workers": [{"citizen_id": c, "claimed_fen": fen} for c, fen in workers],
        "period_from": (end - timedelta(days=89)).isoformat(),
        "period_to": end.isoformat(),
        "summary": "三个月工资未发",
    }
    return {**body, **changes}


async def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["type"].endswith(f"/{code}"), body
    return body


async def receive(stack: Stack, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    reply: dict[str, Any] = await ok(
        await stack.client.post(f"{BASE}/complaints", json=body, headers=headers or clerk(stack, "hotline")), 201
    )
    return reply


async def accepted_case(stack: Stack, *workers: tuple[str, int], **changes: Any) -> str:
    lead = await receive(stack, complaint(stack, *workers, **changes))
    accepted = await ok(await stack.client.post(f"{BASE}/leads/{lead['lead_id']}/acceptance", headers=clerk(stack)))
    case_id: str = accepted["case_id"]
    return case_id


def case_in(stack: Stack, case_id: str, status: str) -> Any:
    async def check() -> dict[str, Any] | None:
        r = await stack.client.get(f"{BASE}/cases/{case_id}", headers=stack.token())
        body: dict[str, Any] = r.json()
        return body if r.status_code == 200 and body["status"] == status else None

    return check


async def stored_events(stack: Stack, event_type: str | None = None) -> int:
    pool = stack.services[("arrears", "36")].resources.pool
    count: int = await pool.fetchval(
        "SELECT count(*) FROM events WHERE $1::text IS NULL OR event_type = $1", event_type
    )
    return count


async def supervised(stack: Stack, **params: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = await ok(
        await stack.client.get(f"{BASE}/supervision", params=params, headers=stack.token())
    )
    return listed


async def test_a_complaint_routed_across_two_districts_is_paid_closed_and_reviewed(stack: Stack) -> None:
    # Zhang complains online at Qingshanhu for himself and Li; the employer is in Donghu: routed there at once.
    lead = await receive(stack, complaint(stack, (ZHANG, 680_000), (LI, 1_250_050)), worker_token(stack, ZHANG))
    assert (lead["status"], lead["district"], lead["reported_again"]) == ("routed", DONGHU, False)
    lead_id = lead["lead_id"]

    # Donghu passes it on: the project site is in Honggutan, which accepts and files the case.
    routed = await ok(
        await stack.client.post(
            f"{BASE}/leads/{lead_id}/routing",
            json={"to_district": HONGGUTAN, "reason": "项目工地在红谷滩区"},
            headers=clerk(stack),
        )
    )
    assert (routed["district"], routed["hops"]) == (HONGGUTAN, 2)
    accepted = await ok(await stack.client.post(f"{BASE}/leads/{lead_id}/acceptance", headers=clerk(stack)))
    case_id = accepted["case_id"]
    assert (accepted["status"], accepted["district"], accepted["case_status"]) == (
        "accepted",
        HONGGUTAN,
        "investigating",
    )

    due_on = (today(stack) + timedelta(days=10)).isoformat()
    order = await ok(
        await stack.client.post(
            f"{BASE}/cases/{case_id}/payment-orders",
            json={"liable_party": BUILDER, "due_on": due_on},
            headers=clerk(stack),
        ),
        201,
    )
    assert (order["order_id"], order["amount_fen"], order["status"]) == ("order-1", 1_930_050, "ordered")

    for payments in (
        [{"citizen_id": ZHANG, "amount_fen": 680_000}, {"citizen_id": LI, "amount_fen": 1_000_000}],
        [{"citizen_id": LI, "amount_fen": 250_050}],
    ):
        paid = await ok(
            await stack.client.post(
                f"{BASE}/cases/{case_id}/payments", json={"payer": BUILDER, "payments": payments}, headers=clerk(stack)
            )
        )
    assert (paid["paid_fen"], paid["unpaid_fen"]) == (1_930_050, 0)

    closed = await ok(await stack.client.post(f"{BASE}/cases/{case_id}/closure", json={}, headers=clerk(stack)))
    assert closed["status"] in ("closed", "reviewing")  # "reviewing" when drawn in the review sample

    # Li says the money did not really arrive: the case is reviewed, and the check finds it paid.
    disputed = await ok(
        await stack.client.post(f"{BASE}/cases/{case_id}/disputes", json={}, headers=worker_token(stack, LI))
    )
    assert disputed["status"] == "reviewing"
    reviewed = await ok(
        await stack.client.post(
            f"{BASE}/cases/{case_id}/reviews",
            json={"passed": True, "reviewer": "市监察支队 陈某", "findings": "银行流水显示工资已到账"},
            headers=clerk(stack),
        )
    )
    assert reviewed["status"] == "reviewed"

    case = await eventually(case_in(stack, case_id, "reviewed"))
    assert (case["district"], case["outcome"], case["claimed_fen"], case["paid_fen"]) == (
        HONGGUTAN,
        "paid_in_full",
        1_930_050,
        1_930_050,
    )
    assert case["review_result"] == "passed"
    assert [(w["citizen_id"], w["unpaid_fen"]) for w in case["workers_detail"]] == sorted([(ZHANG, 0), (LI, 0)])
    assert [o["order_id"] for o in case["orders"]] == ["order-1"]
    steps = [s["step"] for s in case["steps"]]
    assert steps[0] == "case_filed" and steps[-1] == "review_passed"
    assert {"payment_ordered", "wages_paid", "case_closed", "review_scheduled"} <= set(steps)

    # Citizen ID numbers travel in bodies only: no span of the whole flow names one.
    for span in stack.spans.get_finished_spans():
        texts = [span.name, *(str(v) for v in (span.attributes or {}).values())]
        assert not any(number in text for number in (ZHANG, LI) for text in texts)

    full = await ok(await stack.client.get(f"{BASE}/leads/{lead_id}", headers=stack.token()))
    assert [(h["from_district"], h["to_district"]) for h in full["hops"]] == [(QINGSHANHU, DONGHU), (DONGHU, HONGGUTAN)]
    assert (full["status"], full["case_id"], full["channel"]) == ("accepted", case_id, "app")


async def test_the_same_complaint_reported_again_is_one_lead_even_when_reports_race(stack: Stack) -> None:
    first = await receive(
        stack, complaint(stack, (ZHANG, 500_000), (LI, 300_000)), worker_token(stack, ZHANG, "web_hall")
    )
    # Li phones the hotline at another district, listing the workers the other way round: the same lead.
    again = await receive(stack, complaint(stack, (LI, 300_000), (ZHANG, 500_000), received_by=XIHU))
    assert (again["lead_id"], again["reported_again"], again["reports"]) == (first["lead_id"], True, 2)

    # Three reports of another complaint at the same moment: one lead, two repeats.
    racing = complaint(stack, (WANG, 420_000))
    replies = await asyncio.gather(*(receive(stack, racing) for _ in range(3)))
    assert len({r["lead_id"] for r in replies}) == 1
    assert sorted(r["reported_again"] for r in replies) == [False, True, True]
    assert await stored_events(stack, "LeadReceived") == 2
    assert await stored_events(stack, "LeadReportedAgain") == 3

    async def counted() -> int | None:
        pool = stack.services[("arrears", "36")].resources.pool
        handled: int | None = await pool.fetchval("SELECT sum(handled) FROM handled_services")
        return handled if handled == 2 else None

    assert await eventually(counted) == 2  # a lead received is one service handled; a repeat is not

    async def reported() -> dict[str, Any] | None:
        r = await stack.client.get(f"{BASE}/leads/{first['lead_id']}", headers=stack.token())
        return r.json() if r.status_code == 200 and r.json()["reports"] == 2 else None

    lead = await eventually(reported)
    assert lead["channel"] == "web"


async def test_bad_input_is_refused_clearly_and_nothing_is_stored(stack: Stack) -> None:
    good = complaint(stack, (ZHANG, 500_000))
    tomorrow = (today(stack) + timedelta(days=1)).isoformat()
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({**good, "employer_credit_code": BUILDER[:-1] + ("0" if BUILDER[-1] != "0" else "1")}, 400, "invalid-request"),
        ({k: v for k, v in good.items() if k != "employer_credit_code"}, 400, "invalid-request"),
        ({**good, "workers": [{"citizen_id": ZHANG[:-1] + "0", "claimed_fen": 500_000}]}, 400, "invalid-request"),
        ({**good, "workers": [{"citizen_id": ZHANG, "claimed_fen": 0}]}, 400, "invalid-request"),
        ({**good, "workers": [{"citizen_id": ZHANG, "claimed_fen": -100}]}, 400, "invalid-request"),
        ({**good, "workers": []}, 400, "invalid-request"),
        ({**good, "period_to": tomorrow}, 422, "arrears-rule"),
        ({**good, "period_from": good["period_to"], "period_to": good["period_from"]}, 422, "arrears-rule"),
        (
            {**good, "workers": [{"citizen_id": ZHANG, "claimed_fen": 1}, {"citizen_id": ZHANG, "claimed_fen": 2}]},
            422,
            "arrears-rule",
        ),
        ({**good, "received_by": "440305"}, 422, "arrears-rule"),
    ]
    for body, status, code in cases:
        problem = await refused(
            await stack.client.post(f"{BASE}/complaints", json=body, headers=clerk(stack)), status, code
        )
        assert ZHANG not in problem.get("detail", "")  # ID numbers are never echoed
    future = await refused(
        await stack.client.post(f"{BASE}/complaints", json={**good, "period_to": tomorrow}, headers=clerk(stack)),
        422,
        "arrears-rule",
    )
    assert "after today" in future["detail"]
    assert await stored_events(stack) == 0

    # A worker complains only about wages owed to them.
    await refused(
        await stack.client.post(f"{BASE}/complaints", json=good, headers=worker_token(stack, LI)), 403, "forbidden"
    )

    # Routing to a district the region does not know is refused with the rule; nothing is recorded.
    lead = await receive(stack, good)
    before = await stored_events(stack)
    unknown = await refused(
        await stack.client.post(
            f"{BASE}/leads/{lead['lead_id']}/routing",
            json={"to_district": "360199", "reason": "?"},
            headers=clerk(stack),
        ),
        422,
        "unknown-district",
    )
    assert "not a district of this region" in unknown["detail"]
    await refused(
        await stack.client.post(
            f"{BASE}/leads/{lead['lead_id']}/routing",
            json={"to_district": "36010", "reason": "?"},
            headers=clerk(stack),
        ),
        400,
        "invalid-request",
    )
    await refused(
        await stack.client.post(f"{BASE}/leads/{'0' * 16}/acceptance", headers=clerk(stack)), 404, "arrears-not-found"
    )
    assert await stored_events(stack) == before


async def test_a_case_with_wages_unpaid_cannot_close_but_can_end_by_withdrawal_with_a_reason(stack: Stack) -> None:
    case_id = await accepted_case(stack, (ZHANG, 680_000), (LI, 1_250_000))
    await ok(
        await stack.client.post(
            f"{BASE}/cases/{case_id}/payments",
            json={"payer": BUILDER, "payments": [{"citizen_id": ZHANG, "amount_fen": 680_000}]},
            headers=clerk(stack),
        )
    )
    before = await stored_events(stack)

    unpaid = await refused(
        await stack.client.post(f"{BASE}/cases/{case_id}/closure", json={}, headers=clerk(stack)), 422, "unpaid-wages"
    )
    assert "1250000 fen of the wages claimed are still unpaid" in unpaid["detail"]
    assert "transfer or withdrawal with a reason" in unpaid["detail"]
    overpaid = await refused(
        await stack.client.post(
            f"{BASE}/cases/{case_id}/payments",
            json={"payer": BUILDER, "payments": [{"citizen_id": LI, "amount_fen": 1_250_001}]},
            headers=clerk(stack),
        ),
        422,
        "arrears-rule",
    )
    assert LI not in overpaid["detail"] and "1250000" in overpaid["detail"]
    await refused(
        await stack.client.post(f"{BASE}/cases/{case_id}/withdrawal", json={"reason": ""}, headers=clerk(stack)),
        400,
        "invalid-request",
    )
    assert await stored_events(stack) == before

    withdrawn = await ok(
        await stack.client.post(
            f"{BASE}/cases/{case_id}/withdrawal", json={"reason": "李某与单位达成和解，撤回投诉"}, headers=clerk(stack)
        )
    )
    assert withdrawn["status"] in ("closed", "reviewing")
    case = await eventually(case_in(stack, case_id, withdrawn["status"]))
    assert (case["outcome"], case["unpaid_fen"]) == ("withdrawn", 1_250_000)
    await refused(
        await stack.client.post(f"{BASE}/cases/{case_id}/closure", json={}, headers=clerk(stack)),
        409,
        "arrears-wrong-status",
    )


async def test_time_past_the_limits_opens_supervision_then_escalates_it(stack: Stack) -> None:
    lead = await receive(stack, complaint(stack, (ZHANG, 680_000)))
    lead_id = lead["lead_id"]
    assert lead["district"] == DONGHU

    stack.clock.advance(days=15)  # past 5 working days at Donghu without an answer
    at_city = await eventually(lambda: supervised(stack, supervisor="360100", level="city"), within=30)
    assert [(s["subject_id"], s["kind"], s["stage"], s["district"]) for s in at_city] == [
        (lead_id, "lead", "acceptance", DONGHU)
    ]

    stack.clock.advance(days=15)  # still unanswered 5 working days after supervision opened
    at_province = await eventually(lambda: supervised(stack, supervisor="360000", level="province"), within=30)
    assert [s["subject_id"] for s in at_province] == [lead_id]
    assert await supervised(stack, level="city") == []

    accepted = await ok(await stack.client.post(f"{BASE}/leads/{lead_id}/acceptance", headers=clerk(stack)))
    case_id = accepted["case_id"]

    async def lead_supervision_ended() -> bool:
        return await supervised(stack) == []

    await eventually(lead_supervision_ended)
    stack.clock.advance(days=130)  # past 60 working days without closing the case
    case_at_city = await eventually(lambda: supervised(stack, supervisor="360100"), within=30)
    assert [(s["subject_id"], s["stage"], s["level"]) for s in case_at_city] == [(case_id, "investigation", "city")]

    stack.clock.advance(days=15)
    case_at_province = await eventually(lambda: supervised(stack, level="province"), within=30)
    assert [(s["subject_id"], s["supervisor"]) for s in case_at_province] == [(case_id, "360000")]
    assert await stored_events(stack, "SupervisionOpened") == 2
    assert await stored_events(stack, "SupervisionEscalated") == 2

    case = await ok(await stack.client.get(f"{BASE}/cases/{case_id}", headers=stack.token()))
    assert case["overdue"] is True
    assert [(s["stage"], s["level"]) for s in case["supervision"]] == [("investigation", "province")]
    district = await ok(await stack.client.get(f"{BASE}/cases", params={"district": DONGHU}, headers=stack.token()))
    assert [(c["case_id"], c["overdue"]) for c in district["cases"]] == [(case_id, True)]
    assert district["leads"] == []


async def test_a_worker_sees_only_their_own_cases_with_other_workers_masked(stack: Stack) -> None:
    ours = await accepted_case(stack, (ZHANG, 680_000), (LI, 1_250_000))
    theirs = await accepted_case(stack, (WANG, 420_000), employer_credit_code=CANTEEN, industry_code="H6210")
    await eventually(case_in(stack, theirs, "investigating"))
    await eventually(case_in(stack, ours, "investigating"))

    mine = await ok(await stack.client.get("/v1/regions/36/me/arrears", headers=worker_token(stack, ZHANG)))
    assert [c["case_id"] for c in mine["cases"]] == [ours]
    workers = {w["citizen_id"]: w for w in mine["cases"][0]["workers_detail"]}
    assert workers[ZHANG]["me"] is True and workers[ZHANG]["claimed_fen"] == 680_000
    masked_li = LI[:6] + "*" * 10 + LI[-2:]
    assert set(workers) == {ZHANG, masked_li}
    assert LI not in str(mine)

    await refused(
        await stack.client.get(f"{BASE}/cases/{theirs}", headers=worker_token(stack, ZHANG)), 404, "arrears-not-found"
    )
    own = await ok(await stack.client.get(f"{BASE}/cases/{ours}", headers=worker_token(stack, LI)))
    assert ZHANG not in str(own) and LI in str(own)
    wang = await ok(await stack.client.get("/v1/regions/36/me/arrears", headers=worker_token(stack, WANG)))
    assert [c["case_id"] for c in wang["cases"]] == [theirs]

    for path in (f"{BASE}/cases?district={DONGHU}", f"{BASE}/supervision", "/v1/regions/36/statistics/arrears"):
        r = await stack.client.get(path, headers=worker_token(stack, ZHANG))
        assert r.status_code in (400, 403), r.text
    await refused(
        await stack.client.post(f"{BASE}/cases/{theirs}/closure", json={}, headers=worker_token(stack, ZHANG)),
        403,
        "forbidden",
    )


async def test_the_figures_for_a_date_range_by_district_industry_and_channel(stack: Stack) -> None:
    day_one = today(stack)
    paid_case = await accepted_case(stack, (ZHANG, 600_000), (LI, 400_000))
    await ok(
        await stack.client.post(
            f"{BASE}/cases/{paid_case}/payments",
            json={
                "payer": BUILDER,
                "payments": [{"citizen_id": ZHANG, "amount_fen": 600_000}, {"citizen_id": LI, "amount_fen": 400_000}],
            },
            headers=clerk(stack),
        )
    )
    await ok(await stack.client.post(f"{BASE}/cases/{paid_case}/closure", json={}, headers=clerk(stack)))
    police_case = await accepted_case(
        stack, (WANG, 300_000), employer_credit_code=CANTEEN, division_code=XIHU, industry_code="H6210"
    )
    await ok(
        await stack.client.post(
            f"{BASE}/cases/{police_case}/transfer",
            json={"target": "police", "to": "南昌市公安局西湖分局", "reason": "拒不支付劳动报酬，涉嫌犯罪"},
            headers=clerk(stack),
        )
    )
    stack.clock.advance(days=40)
    later = today(stack)
    await receive(
        stack,
        complaint(stack, (ZHANG, 100_000), employer_credit_code=GENERAL, division_code=HONGGUTAN),
        worker_token(stack, ZHANG, "web_hall"),
    )

    async def figures(first: date, last: date) -> dict[str, Any]:
        params = {"first": first.isoformat(), "last": last.isoformat()}
        body: dict[str, Any] = await ok(
            await stack.client.get("/v1/regions/36/statistics/arrears", params=params, headers=stack.token())
        )
        return body

    async def projected() -> dict[str, Any] | None:
        everything = await figures(day_one, later)
        return everything if everything["total"]["leads"] == 3 else None

    everything = await eventually(projected)
    total = everything["total"]
    assert (total["leads"], total["cases"], total["cases_closed"], total["workers"]) == (3, 2, 2, 3)
    assert (total["claimed_fen"], total["recovered_fen"], total["police_transfers"]) == (1_300_000, 1_000_000, 1)
    assert (total["closure_rate_percent"], total["on_time_rate_percent"]) == (100.0, 100.0)
    assert everything["by_district"][DONGHU]["recovered_fen"] == 1_000_000
    assert everything["by_district"][XIHU]["police_transfers"] == 1
    assert everything["by_district"][HONGGUTAN]["leads"] == 1
    assert everything["by_industry"]["H6210"]["cases"] == 1
    assert {k: v["leads"] for k, v in everything["by_channel"].items()} == {"hotline": 2, "web": 1}

    first_day = await figures(day_one, day_one)
    assert (first_day["total"]["leads"], first_day["total"]["cases"]) == (2, 2)
    last_day = await figures(later, later)
    assert (last_day["total"]["leads"], last_day["total"]["cases"], last_day["total"]["recovered_fen"]) == (1, 0, 0)
    assert last_day["total"]["closure_rate_percent"] is None
    await refused(
        await stack.client.get(
            "/v1/regions/36/statistics/arrears",
            params={"first": later.isoformat(), "last": day_one.isoformat()},
            headers=stack.token(),
        ),
        400,
        "invalid-request",
    )


async def test_a_subcontractor_ignoring_the_order_the_general_contractor_pays_first_and_compensation_is_added(
    stack: Stack,
) -> None:
    project = {"name": "红谷滩某安置房项目", "general_contractor_code": GENERAL, "subcontractor_code": BUILDER}
    case_id = await accepted_case(stack, (ZHANG, 680_000), (LI, 1_250_000), project=project)
    extended = await ok(
        await stack.client.post(
            f"{BASE}/cases/{case_id}/extension",
            json={"approved_by": "局长 王某", "reason": "涉及多个分包"},
            headers=clerk(stack),
        )
    )
    assert extended["working_days"] == 90
    await refused(
        await stack.client.post(
            f"{BASE}/cases/{case_id}/extension",
            json={"approved_by": "局长 王某", "reason": "再次"},
            headers=clerk(stack),
        ),
        422,
        "arrears-rule",
    )
    due_on = today(stack) + timedelta(days=3)
    order = await ok(
        await stack.client.post(
            f"{BASE}/cases/{case_id}/payment-orders",
            json={"liable_party": BUILDER, "due_on": due_on.isoformat()},
            headers=clerk(stack),
        ),
        201,
    )
    await ok(
        await stack.client.post(
            f"{BASE}/cases/{case_id}/payments",
            json={"payer": BUILDER, "payments": [{"citizen_id": ZHANG, "amount_fen": 680_000}]},
            headers=clerk(stack),
        )
    )
    # Before the due day the general contractor is not yet liable.
    await refused(
        await stack.client.post(
            f"{BASE}/cases/{case_id}/general-contractor-payments",
            json={"order_id": order["order_id"], "payments": [{"citizen_id": LI, "amount_fen": 1_250_000}]},
            headers=clerk(stack),
        ),
        422,
        "arrears-rule",
    )

    stack.clock.advance(days=10)  # past the order's due day: the order timer fires

    async def defaulted() -> dict[str, Any] | None:
        r = await stack.client.get(f"{BASE}/cases/{case_id}", headers=stack.token())
        if r.status_code == 404:
            return None  # the case view catches up with the log a moment after the commands
        body: dict[str, Any] = await ok(r)
        return body if [o["status"] for o in body["orders"]] == ["defaulted"] else None

    case = await eventually(defaulted, within=30)
    assert case["orders"][0]["unpaid_at_due_fen"] == 1_250_000
    await ok(
        await stack.client.post(
            f"{BASE}/cases/{case_id}/general-contractor-payments",
            json={"order_id": order["order_id"], "payments": [{"citizen_id": LI, "amount_fen": 1_250_000}]},
            headers=clerk(stack),
        )
    )
    compensation = await ok(
        await stack.client.post(
            f"{BASE}/cases/{case_id}/additional-compensation",
            json={"order_id": order["order_id"], "rate": "0.5"},
            headers=clerk(stack),
        )
    )
    assert compensation["compensation_fen"] == 625_000
    await refused(
        await stack.client.post(
            f"{BASE}/cases/{case_id}/additional-compensation",
            json={"order_id": order["order_id"], "rate": "1.5"},
            headers=clerk(stack),
        ),
        400,
        "invalid-request",
    )
    penalty = await ok(
        await stack.client.post(
            f"{BASE}/cases/{case_id}/penalties",
            json={"party": BUILDER, "amount_fen": 2_000_000, "reason": "逾期未支付劳动报酬"},
            headers=clerk(stack),
        )
    )
    assert penalty["penalties_fen"] == 2_000_000
    closed = await ok(await stack.client.post(f"{BASE}/cases/{case_id}/closure", json={}, headers=clerk(stack)))
    case = await eventually(case_in(stack, case_id, closed["status"]))
    assert (case["paid_fen"], case["compensation_fen"], case["penalties_fen"]) == (1_930_000, 625_000, 2_000_000)
    assert sorted((p["kind"], p["amount_fen"]) for p in case["payments"]) == [
        ("general_contractor", 1_250_000),
        ("wages", 680_000),
    ]
