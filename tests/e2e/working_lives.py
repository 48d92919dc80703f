"""Working lives for the transfer tests: employers registered, people hired, months assessed and paid."""

from __future__ import annotations

from typing import Any

from contracts.identifiers import citizen_id_check_character, credit_code_check_character
from tests.stack import Stack
from tests.waiting import eventually

FOSHAN = "91440604MA4W0XC02" + credit_code_check_character("91440604MA4W0XC02")
NANCHANG = "91360102MA35L0XC0" + credit_code_check_character("91360102MA35L0XC0")


def citizen(body17: str) -> str:
    return body17 + citizen_id_check_character(body17)


YOUNG = citizen("36010219900307123")  # born 1990, hukou 36
OLDER_MAN = citizen("44060419700307123")  # born 1970, hukou 44: moving to 36 at 56 -> temporary account


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
    stack: Stack,
    region: str,
    employer: str,
    worker: str,
    hired: str,
    months: list[str],
    ended: str | None,
    *,
    unpaid: tuple[str, ...] = (),
) -> None:
    """Hire `worker`, assess each month and pay all but `unpaid`, then end the employment on `ended`."""
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
        await assess(stack, region, employer, month)
        if month not in unpaid:
            await pay(stack, region, employer, month)
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


async def assess(stack: Stack, region: str, employer: str, month: str) -> None:
    await ok(
        await stack.client.post(
            f"/v1/regions/{region}/contributions/assessments",
            json={"employer_credit_code": employer, "month": month},
            headers=stack.token(region=region),
        )
    )


async def pay(stack: Stack, region: str, employer: str, month: str) -> None:
    await ok(
        await stack.client.post(
            f"/v1/regions/{region}/contributions/payments",
            json={"employer_credit_code": employer, "month": month, "paid_on": f"{month}-10"},
            headers=stack.token(region=region),
        )
    )


async def history_in_transfer_service(stack: Stack, region: str, months: int) -> bool:
    pool = stack.services[("transfer", region)].resources.pool
    return bool(await pool.fetchval("SELECT count(*) FROM history WHERE paid") >= months)
