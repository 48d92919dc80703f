"""The write access matrix, built from the OpenAPI document (issue 9, S1-S3): every write route of
region 36, on objects that exist, sent by callers who may not perform it; forbidden actions that
succeeded = 0 and nothing stored. And mass assignment (S2): server-owned and unknown fields in a
create body are refused, naming the field; fields accepted = 0."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from contracts.identifiers import credit_code_check_character
from contracts.signing import sign
from gateway.auth import issue_token
from runtime.workdays import local_date
from tests.conftest import Servers
from tests.e2e.working_lives import NANCHANG, YOUNG, citizen, ok, register
from tests.stack import Stack, running_stack
from tests.waiting import eventually

R = "/v1/regions/{region}"
KEYS = {"H36001": ["h36001-write-matrix-key-0123456789"], "H36002": ["h36002-write-matrix-key-0123456789"]}
NEW_EMPLOYER = "91360103MA36A0XC0" + credit_code_check_character("91360103MA36A0XC0")
OTHER_EMPLOYER = "91360104MA37B0XC0" + credit_code_check_character("91360104MA37B0XC0")
BUILDER = "91360111MA38QW1K0" + credit_code_check_character("91360111MA38QW1K0")
ZHANG, LI = citizen("36011119880512301"), citizen("36010319950101452")  # workers owed wages
WORKER = citizen("36010219850612201")  # injured at work
INTRUDER = citizen("36010419870202345")  # a citizen in none of the objects below
LINE = {"line_no": 1, "item_code": "XJ01DCC040", "quantity": 10, "unit_price_fen": 180, "amount_fen": 1800}
PROBLEM = "application/problem+json"
Headers = Callable[[str, bytes], dict[str, str]]  # (path, raw body) -> the caller's headers


@pytest.fixture
async def stack(servers: Servers, subject_root: str) -> AsyncIterator[Stack]:
    async with running_stack(servers, subject_root, regions=("36", "44"), hospital_keys=KEYS) as s:
        yield s


def bodies(day: date) -> dict[str, Any]:
    """A valid body for every write route, keyed by its OpenAPI path template (None: the route has none;
    a list: several bodies for one route)."""

    def on(days: int) -> str:
        return (day + timedelta(days=days)).isoformat()

    month = (day.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    employer = {"name": "Valves Co", "division_code": "360102", "industry_code": "C3071", "established_on": on(-9)}
    feed = {**employer, "record_id": "r-1", "credit_code": NEW_EMPLOYER, "market_registered_at": f"{on(-9)}T09:00Z"}
    employee = {"citizen_id": YOUNG, "employer_credit_code": NANCHANG}
    item = {"code": "XT01", "name": "gauze", "kind": "drug", "category": "class_a", "unit": "box", "price_fen": 1}
    injury = {"employer_id": NANCHANG, "injury_date": on(-2)}
    paid = {"payments": [{"citizen_id": LI, "amount_fen": 1}]}
    reason = {"reason": "matrix check"}
    totals = {"day": on(-3), "count": 1, "total_fen": 1, "fund_fen": 1}
    return {
        R + "/feeds/market-registrations": {"records": [feed]},
        R + "/employers": {**employer, "credit_code": NEW_EMPLOYER},
        R + "/employers/{credit_code}/injury-class": {"credit_code": NANCHANG, "risk_class": 2, "tier": "1.0"},
        R + "/review-queue/{credit_code}/approve": None,
        R + "/employees": {**employee, "citizen_id": ZHANG, "hired_on": on(-5), "declared_monthly_wage_fen": 800_000},
        R + "/employees/batch": {
            "enrolments": [{**employee, "citizen_id": ZHANG, "hired_on": on(-5), "declared_monthly_wage_fen": 800_000}]
        },
        R + "/employments/end": {**employee, "ended_on": on(0)},
        R + "/employments/end/batch": {"ends": [{**employee, "ended_on": on(0)}]},
        R + "/bases": {**employee, "year": day.year, "declared_monthly_wage_fen": 900_000},
        R + "/contributions/assessments": {"employer_credit_code": NANCHANG, "month": month},
        R + "/contributions/assessments/batch": {"employer_credit_codes": [NANCHANG], "month": month},
        R + "/contributions/payments": {"employer_credit_code": NANCHANG, "month": month, "paid_on": on(0)},
        R + "/contributions/payments/batch": {
            "payments": [{"employer_credit_code": NANCHANG, "month": month, "paid_on": on(0)}]
        },
        R + "/people/lookup": {"citizen_id": YOUNG},
        R + "/transfers": {"citizen_id": YOUNG, "from_region": "44"},
        R + "/arrears/complaints": complaint(day, ZHANG),
        R + "/arrears/leads/{lead_id}/routing": {"to_district": "360113", **reason},
        R + "/arrears/leads/{lead_id}/acceptance": None,
        R + "/arrears/leads/{lead_id}/refusal": {"reason": "not_wage_matter"},
        R + "/arrears/cases/{case_id}/extension": {"approved_by": "the head", **reason},
        R + "/arrears/cases/{case_id}/payment-orders": {"liable_party": BUILDER, "due_on": on(10)},
        R + "/arrears/cases/{case_id}/payments": {"payer": "the builder", **paid},
        R + "/arrears/cases/{case_id}/general-contractor-payments": {"order_id": "order-1", **paid},
        R + "/arrears/cases/{case_id}/penalties": {"party": BUILDER, "amount_fen": 100_000, **reason},
        R + "/arrears/cases/{case_id}/additional-compensation": {"order_id": "order-1", "rate": "0.5"},
        R + "/arrears/cases/{case_id}/transfer": {"target": "police", "to": "the police", **reason},
        R + "/arrears/cases/{case_id}/withdrawal": reason,
        R + "/arrears/cases/{case_id}/closure": {},
        R + "/arrears/cases/{case_id}/reviews": {"passed": True, "reviewer": "the reviewer"},
        # An empty body: a citizen disputes as themselves, and the case's own membership check answers.
        R + "/arrears/cases/{case_id}/disputes": [{}, {"citizen_id": LI}],
        R + "/injury/hospitals/{hospital_id}/settlements": posting(day, "S-0002"),
        R + "/injury/hospitals/{hospital_id}/settlements/{settlement_no}/reversal": reason,
        R + "/injury/hospitals/{hospital_id}/reconciliations": totals,
        R + "/injury/agreements": agreement(day, "H36003"),
        R + "/injury/agreements/{hospital_id}/suspension": {"effective_from": on(0), **reason},
        R + "/injury/agreements/{hospital_id}/reinstatement": {"effective_from": on(1)},
        R + "/injury/agreements/{hospital_id}/termination": {"effective_from": on(30), **reason},
        R + "/injury/determinations": {"determination_id": "RD-002", "citizen_id": WORKER, **injury},
        R + "/injury/determinations/{determination_id}/acceptance": {"facts_clear": True},
        R + "/injury/determinations/{determination_id}/decision": {"outcome": "recognised"},
        R + "/injury/catalogue/versions": {"items": [{**item, "valid_from": on(0)}]},
        R + "/injury/settlements/{hospital_id}/{settlement_no}/resettlement": {"determination_id": "RD-001"},
    }


def complaint(day: date, *workers: str) -> dict[str, Any]:
    end = day.replace(day=1) - timedelta(days=1)
    return {
        "received_by": "360111",
        "employer_credit_code": BUILDER,
        "employer_name": "A builder",
        "division_code": "360102",
        "industry_code": "E4700",
        "workers": [{"citizen_id": w, "claimed_fen": 500_000} for w in workers],
        "period_from": (end - timedelta(days=89)).isoformat(),
        "period_to": end.isoformat(),
    }


def posting(day: date, number: str) -> dict[str, Any]:
    service_date = (day - timedelta(days=3)).isoformat()
    return {
        "hospital_settlement_no": number,
        "citizen_id": WORKER,
        "service_date": service_date,
        "lines": [LINE],
        "declared_total_fen": 1800,
    }


def agreement(day: date, hospital: str) -> dict[str, Any]:
    span = {"signed_on": -200, "valid_from": -180, "valid_to": 180}
    return {"hospital_id": hospital, "name": hospital} | {
        k: (day + timedelta(days=d)).isoformat() for k, d in span.items()
    }


def signed(hospital: str) -> Headers:
    """A hospital's system: every request signed with its own key under a fresh message id."""

    def headers(path: str, raw: bytes) -> dict[str, str]:
        at, mid = int(datetime.now(UTC).timestamp()), uuid4().hex
        signature = sign(KEYS[hospital][0].encode(), timestamp=at, message_id=mid, method="POST", path=path, body=raw)
        return {"X-Hospital-Id": hospital, "X-Timestamp": str(at), "X-Message-Id": mid, "X-Signature": signature}

    return headers


def bearer(stack: Stack, **claims: Any) -> Headers:
    token = issue_token(stack.settings.jwt_secret, **claims)
    return lambda path, raw: {"Authorization": f"Bearer {token}"}


async def post(stack: Stack, path: str, body: Any, headers: Headers) -> httpx.Response:
    raw = b"" if body is None else json.dumps(body).encode()
    fixed = {"Content-Type": "application/json", "Idempotency-Key": f"write-matrix-{uuid4().hex}"}
    return await stack.client.post(path, content=raw, headers={**headers(path, raw), **fixed})


async def seeded(stack: Stack) -> dict[str, str]:
    """Objects of region 36 for every write to act on, so that a missing check would answer 2xx or a
    rule of the object (409, 422), never a 404 for want of it. Answers the value of each path parameter."""
    day, operator = local_date(stack.clock.now()), bearer(stack, kind="operator", subject="ops-36", region="36")
    base = "/v1/regions/36"

    async def created(path: str, body: Any, headers: Headers = operator, status: int = 201) -> Any:
        return await ok(await post(stack, base + path, body, headers), status)

    await register(stack, "36", NANCHANG, "360102")
    await created("/employees", bodies(day)[R + "/employees"] | {"citizen_id": YOUNG})
    for hospital in KEYS:
        await created("/injury/agreements", agreement(day, hospital))

    async def catalogue_loaded() -> bool:
        r = await stack.client.get(f"{base}/injury/catalogue/items/{LINE['item_code']}", headers=stack.token())
        return r.status_code == 200

    await eventually(catalogue_loaded)
    await created("/injury/determinations", bodies(day)[R + "/injury/determinations"] | {"determination_id": "RD-001"})
    await created("/injury/hospitals/H36001/settlements", posting(day, "S-0001"), signed("H36001"), 200)
    waiting = await created("/arrears/complaints", complaint(day, ZHANG))
    filed = await created("/arrears/complaints", complaint(day, LI))
    case = await created(f"/arrears/leads/{filed['lead_id']}/acceptance", None, status=200)
    return {
        "region": "36",
        "credit_code": NANCHANG,
        "lead_id": waiting["lead_id"],
        "case_id": case["case_id"],
        "hospital_id": "H36001",
        "settlement_no": "S-0001",
        "determination_id": "RD-001",
    }


def fill(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


def write_routes(stack: Stack) -> list[str]:
    spec = stack.client._transport.app.openapi()  # type: ignore[attr-defined]
    writes = {"post", "put", "patch", "delete"}
    return [path for path, operations in spec["paths"].items() if path.startswith(R) and writes & set(operations)]


async def stored_events(stack: Stack) -> dict[tuple[str, str], int]:
    return {key: await s.resources.pool.fetchval("SELECT count(*) FROM events") for key, s in stack.services.items()}


# Who may legitimately perform a write the matrix sends: only these pairs are left out.
ALLOWED = {
    # An employer enrols, ends and declares bases for its own employees (require_operator_or(employer=...)).
    ("the employer itself", R + "/employees"),
    ("the employer itself", R + "/employees/batch"),
    ("the employer itself", R + "/employments/end"),
    ("the employer itself", R + "/employments/end/batch"),
    ("the employer itself", R + "/bases"),
}


async def test_no_caller_changes_what_is_not_theirs(stack: Stack) -> None:
    values, every_body = await seeded(stack), bodies(local_date(stack.clock.now()))
    routes = write_routes(stack)
    missing, stale = set(routes) - set(every_body), set(every_body) - set(routes)
    assert not missing and not stale, f"write routes without a body: {missing}; bodies of no route: {stale}"
    callers = {
        "operator of 44": bearer(stack, kind="operator", subject="ops-44", region="44"),
        "the feed of 44": bearer(stack, kind="system", subject="market-feed", region="44"),
        "a feed naming no region": bearer(stack, kind="system", subject="market-feed"),
        "a citizen": bearer(stack, kind="citizen", subject="-", citizen_id=INTRUDER),  # the bodies name others
        "the employer itself": bearer(stack, kind="employer", subject=NANCHANG),
        "another employer": bearer(stack, kind="employer", subject=OTHER_EMPLOYER),
        "a hospital (JWT)": bearer(stack, kind="hospital", subject="H36001"),
        "hospital H36002 (signed)": signed("H36002"),  # the hospital routes name H36001
        "no token": lambda path, raw: {},
    }
    before = await stored_events(stack)
    outcomes: Counter[int] = Counter()
    wrong: list[str] = []
    covered: set[str] = set()
    for who, headers in callers.items():
        for template in routes:
            if (who, template) in ALLOWED:
                continue
            given = every_body[template]
            for body in given if isinstance(given, list) else [given]:
                response = await post(stack, fill(template, values), body, headers)
                outcomes[response.status_code] += 1
                covered.add(template)
                problem = response.headers.get("content-type", "").startswith(PROBLEM)
                if response.status_code not in (401, 403, 404) or not problem:
                    wrong.append(f"{who}: POST {template} -> {response.status_code} {response.text[:160]}")

    requests, succeeded = sum(outcomes.values()), sum(n for status, n in outcomes.items() if status < 300)
    print(
        f"write access matrix: {len(covered)} write routes x {len(callers)} callers = {requests} forbidden requests "
        f"({len(ALLOWED)} allowed pairs left out): answers by status {dict(sorted(outcomes.items()))}, "
        f"succeeded = {succeeded}, 5xx = {sum(n for status, n in outcomes.items() if status >= 500)}"
    )
    assert len(covered) == len(routes) >= 38
    assert wrong == [], "\n".join(wrong)
    assert succeeded == 0
    assert await stored_events(stack) == before, "a refused write stored an event"


# Server-owned fields per create route (dotted: inside a list item), each sent alone; every route also
# gets an unknown field. The contracts forbid extra fields (extra="forbid"), so the only passing answer
# is a 400 problem naming the field: the server's value then stands by construction.
SERVER_OWNED = {
    R + "/transfers": ("status", "case_id", "person_ref", "to_region", "completed_at"),
    R + "/employees": ("status", "person_ref", "contribution_base_fen", "enrolled_at", "region"),
    R + "/employees/batch": ("enrolled", "refused", "enrolments.0.person_ref", "enrolments.0.problem"),
    R + "/employers": ("status", "route", "risk_class", "injury_rate", "province_code", "registered_at"),
    R + "/arrears/complaints": ("lead_id", "case_id", "status", "district", "channel", "workers.0.paid_fen"),
    R + "/arrears/cases/{case_id}/payments": ("case_id", "paid_fen", "payments.0.case_id"),
    R + "/injury/hospitals/{hospital_id}/settlements": (
        "hospital_id",
        "status",
        "fund_fen",
        "approved_amount",
        "person_ref",
        "lines.0.fund_fen",
    ),
    R + "/injury/hospitals/{hospital_id}/reconciliations": ("hospital_id", "matched", "mismatches"),
    R + "/injury/agreements": ("status", "province_code"),
    R + "/injury/determinations": ("status", "stage_limit_days", "completed_at"),
}


def with_field(body: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    changed: dict[str, Any] = json.loads(json.dumps(body))
    *inside, name = dotted.split(".")
    target: Any = changed
    for step in inside:
        target = target[int(step)] if step.isdigit() else target[step]
    target[name] = value
    return changed


def refused_as_extra(response: httpx.Response, field: str) -> bool:
    """A problem that names the field as one the contract does not have (not merely a bad value)."""
    if response.status_code not in (400, 422) or not response.headers["content-type"].startswith(PROBLEM):
        return False
    return any(e["field"] == f"body.{field}" and "Extra inputs" in e["message"] for e in response.json()["errors"])


async def test_read_only_and_unknown_fields_are_not_accepted(stack: Stack) -> None:
    values, every_body = await seeded(stack), bodies(local_date(stack.clock.now()))

    def rightful(template: str) -> Headers:  # who may create there: the worker, the hospital, an operator
        if template.endswith("/transfers"):
            return bearer(stack, kind="citizen", subject="-", citizen_id=YOUNG)
        if "/hospitals/" in template:
            return signed("H36001")
        return bearer(stack, kind="operator", subject="ops-36", region="36")

    accepted: list[str] = []
    answers: Counter[int] = Counter()
    for template, fields in SERVER_OWNED.items():
        path, body = fill(template, values), every_body[template]
        for field in (*fields, "an_unknown_field"):
            response = await post(stack, path, with_field(body, field, "forged-by-the-client"), rightful(template))
            answers[response.status_code] += 1
            if not refused_as_extra(response, field):
                accepted.append(f"{field} on {template} -> {response.status_code} {response.text[:160]}")
        control = await post(stack, path, body, rightful(template))  # the same body without them is valid
        assert control.status_code in (200, 201), f"{template}: {control.text}"

    print(
        f"mass assignment: {len(SERVER_OWNED)} create routes, {answers.total()} server-owned or unknown fields tried, "
        f"answers by status {dict(answers)}, fields accepted = {len(accepted)}"
    )
    assert answers.total() >= 40
    assert accepted == [], "\n".join(accepted)
