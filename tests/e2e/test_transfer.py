"""The inter-province transfer through the gateway: Foshan (44) to Nanchang (36), straight through,
across two regions with their own databases, in one trace; and the refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from contracts.identifiers import citizen_id_check_character, credit_code_check_character
from gateway.auth import issue_token
from tests.conftest import Servers
from tests.stack import Stack, running_stack
from tests.waiting import eventually

FOSHAN = "91440604MA4W0XC02" + credit_code_check_character("91440604MA4W0XC02")
NANCHANG = "91360102MA35L0XC0" + credit_code_check_character("91360102MA35L0XC0")


def citizen(body17: str) -> str:
    return body17 + citizen_id_check_character(body17)


YOUNG = citizen("36010219900307123")  # born 1990, hukou 36
OLDER_MAN = citizen("44060419700307123")  # born 1970, hukou 44: moving to 36 at 56 -> temporary account


@pytest.fixture
async def stack(servers: Servers, subject_root: str) -> AsyncIterator[Stack]:
    async with running_stack(servers, subject_root, services=("enrolment", "transfer"), regions=("36", "44")) as s:
        yield s


async def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def register(stack: Stack, region: str, code: str, division: str) -> None:
    await ok(
        await stack.client.post(
            f"/v1/regions/{region}/employers",
            json={
                "credit_code": code,
                "name": f"Employer {region}",
                "division_code": division,
                "industry_code": "C3071",
                "established_on": "2024-06-03",
            },
            headers=stack.token(region=region),
        ),
        201,
    )

    async def visible() -> bool:
        r = await stack.client.get(f"/v1/regions/{region}/employers/{code}", headers=stack.token(region=region))
        return r.status_code == 200

    await eventually(visible)


async def work(
    stack: Stack, region: str, employer: str, worker: str, hired: str, months: list[str], ended: str | None
) -> None:
    token = stack.token(region=region)
    await ok(
        await stack.client.post(
            f"/v1/regions/{region}/employees",
            json={
                "citizen_id": worker,
                "employer_credit_code": employer,
                "hired_on": hired,
                "declared_monthly_wage_fen": 800_000,
            },
            headers=token,
        ),
        201,
    )

    async def listed() -> bool:
        r = await stack.client.post(f"/v1/regions/{region}/people/lookup", json={"citizen_id": worker}, headers=token)
        return r.status_code == 200

    await eventually(listed)
    for month in months:
        await ok(
            await stack.client.post(
                f"/v1/regions/{region}/contributions/assessments",
                json={"employer_credit_code": employer, "month": month},
                headers=token,
            )
        )
        await ok(
            await stack.client.post(
                f"/v1/regions/{region}/contributions/payments",
                json={"employer_credit_code": employer, "month": month, "paid_on": f"{month}-10"},
                headers=token,
            )
        )
    if ended:
        await ok(
            await stack.client.post(
                f"/v1/regions/{region}/employments/end",
                json={"citizen_id": worker, "employer_credit_code": employer, "ended_on": ended},
                headers=token,
            )
        )

        async def ended_in_view() -> bool:
            r = await stack.client.post(
                f"/v1/regions/{region}/people/lookup", json={"citizen_id": worker}, headers=token
            )
            return all(e["ended_on"] for e in r.json()["enrolments"])

        await eventually(ended_in_view)


async def history_in_transfer_service(stack: Stack, region: str, months: int) -> bool:
    pool = stack.services[("transfer", region)].resources.pool
    return bool(await pool.fetchval("SELECT count(*) FROM history WHERE paid") >= months)


async def test_a_worker_moving_from_foshan_to_nanchang_is_transferred_straight_through_in_one_trace(
    stack: Stack,
) -> None:
    await register(stack, "44", FOSHAN, "440604")
    await register(stack, "36", NANCHANG, "360102")
    await work(stack, "44", FOSHAN, YOUNG, "2025-01-01", ["2025-01", "2025-02", "2025-03"], ended="2026-09-30")
    await work(stack, "36", NANCHANG, YOUNG, "2026-10-01", ["2026-10"], ended=None)
    await eventually(lambda: history_in_transfer_service(stack, "44", 3))
    await eventually(lambda: history_in_transfer_service(stack, "36", 1))
    me = {
        "Authorization": "Bearer "
        + issue_token(stack.settings.jwt_secret, kind="citizen", subject="-", citizen_id=YOUNG)
    }

    applied = await ok(
        await stack.client.post(
            "/v1/regions/36/transfers",
            json={"citizen_id": YOUNG, "from_region": "44"},
            headers={**me, "X-Channel": "mobile_app"},
        ),
        201,
    )

    async def completed() -> dict[str, Any] | None:
        r = await stack.client.get(f"/v1/regions/36/transfers/{applied['case_id']}", headers=stack.token())
        body: dict[str, Any] = r.json()
        return body if body.get("status") == "completed" else None

    case = await eventually(completed, within=30)
    assert applied["status"] == "contact_letter_sent"
    steps = {(s["step"], s["region"]) for s in case["steps"]}
    assert steps >= {
        ("applied", "36"),
        ("contact_letter_sent", "36"),
        ("contact_letter_received", "44"),
        ("information_sheet_issued", "44"),
        ("funds_transferred", "44"),
        ("local_relationship_terminated", "44"),
        ("information_sheet_received", "36"),
        ("funds_received", "36"),
        ("completed", "36"),
    }
    assert case["within_three_days"] is True
    assert case["months_restored"] == 3
    # 800,000 fen wage is within the bounds: 3 months at 8% into the account, 12% of the bases pooled.
    assert case["pooled_fen"] == round(0.12 * 3 * 800_000)
    assert case["individual_fen"] == 3 * 64_000
    assert case["channel"] == "mobile_app"

    # One trace across both regions: the transfer services of 36 and 44 both have spans in it.
    trace_id = int(case["trace_id"], 16)
    services = {
        s.attributes.get("messaging.destination.name", "")
        for s in stack.spans.get_finished_spans()
        if s.context.trace_id == trace_id and s.attributes
    }
    assert any(".44.transfer.in." in d for d in services)
    assert any(".36.transfer.in." in d for d in services)

    figures = await ok(
        await stack.client.get(
            "/v1/regions/36/statistics/transfers",
            params={"first": "2026-01-01", "last": "2027-12-31"},
            headers=stack.token(),
        )
    )
    assert figures["completed_in"] == 1
    assert figures["share_within_three_days_percent"] == 100.0


async def test_refusals_tell_the_applicant_why_and_older_workers_get_a_temporary_account(stack: Stack) -> None:
    await register(stack, "36", NANCHANG, "360102")
    not_here = await ok(
        await stack.client.post(
            "/v1/regions/36/transfers", json={"citizen_id": YOUNG, "from_region": "44"}, headers=stack.token()
        ),
        201,
    )
    await work(stack, "36", NANCHANG, OLDER_MAN, "2026-10-01", ["2026-10"], ended=None)
    await eventually(lambda: history_in_transfer_service(stack, "36", 1))
    pensioner = await ok(
        await stack.client.post(
            "/v1/regions/36/transfers",
            json={"citizen_id": OLDER_MAN, "from_region": "44", "receiving_pension": True},
            headers=stack.token(),
        ),
        201,
    )
    older = await ok(
        await stack.client.post(
            "/v1/regions/36/transfers", json={"citizen_id": OLDER_MAN, "from_region": "44"}, headers=stack.token()
        ),
        201,
    )

    assert (not_here["status"], not_here["reason_code"]) == ("refused", "not_enrolled_here")
    assert (pensioner["status"], pensioner["reason_code"]) == ("refused", "pensioner")
    assert pensioner["reason"]
    assert older["status"] == "temporary_account"
