"""The inter-province transfer through the gateway: Foshan (44) to Nanchang (36), straight through,
across two regions with their own databases, in one trace; and the refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.auth import issue_token
from tests.cli import yiwang
from tests.conftest import Servers
from tests.e2e.working_lives import (
    FOSHAN,
    NANCHANG,
    OLDER_MAN,
    YOUNG,
    assess,
    citizen,
    history_in_transfer_service,
    ok,
    pay,
    register,
    work,
)
from tests.stack import Stack, running_stack, served_over_http
from tests.waiting import eventually
from transfer.history import HistoryFeed


@pytest.fixture
async def stack(servers: Servers, subject_root: str) -> AsyncIterator[Stack]:
    async with running_stack(servers, subject_root, services=("enrolment", "transfer"), regions=("36", "44")) as s:
        yield s


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
    assert [(s["stage"], s["breached"]) for s in case["stages"]] == [
        ("review", False),
        ("old_agency", False),
        ("new_agency", False),
    ]
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

    # The operators' `yiwang transfer`, from its own process over HTTP: the same path, stage by stage.
    async with served_over_http(stack) as url:
        shown = await yiwang(
            "transfer", applied["case_id"], "--region", "36", "--gateway", url, jwt_secret=stack.settings.jwt_secret
        )
    assert shown.status == 0, shown.err
    lines = shown.out.splitlines()
    assert lines[0] == f"transfer {applied['case_id']}  44 -> 36  completed"
    assert f"within three days; trace {case['trace_id']}" in lines[1]
    assert [line.split()[:3] for line in lines[3:6]] == [
        ["review", "region", "36"],
        ["old_agency", "region", "44"],
        ["new_agency", "region", "36"],
    ]
    assert all(line.endswith("on time") for line in lines[3:6])
    assert len(lines) == 7 + len(case["steps"])  # header, summary, "stages:", three stages, "steps:", the steps


async def test_an_application_made_while_the_new_enrolment_is_on_its_way_to_the_transfer_service_waits_for_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiting = asyncio.Event()  # set once the application, not enrolled by the copy, waits for it
    applied_up_to_now = HistoryFeed.applied_up_to_now

    async def noted(feed: HistoryFeed) -> bool:
        waiting.set()
        return await applied_up_to_now(feed)

    monkeypatch.setattr(HistoryFeed, "applied_up_to_now", noted)

    async def application_waits() -> bool:
        return waiting.is_set()

    await register(stack, "36", NANCHANG, "360102")
    transfer = stack.services[("transfer", "36")].resources.pool
    async with transfer.acquire() as held, held.transaction():
        # The transfer service's copy of the enrolment history cannot be written meanwhile (reads can).
        await held.execute("LOCK TABLE employments, history IN EXCLUSIVE MODE")
        await work(stack, "36", NANCHANG, YOUNG, "2026-10-01", ["2026-10"], ended=None)
        applying = asyncio.create_task(
            stack.client.post(
                "/v1/regions/36/transfers", json={"citizen_id": YOUNG, "from_region": "44"}, headers=stack.token()
            )
        )
        await eventually(application_waits)  # it has read a copy without the enrolment
    applied = await ok(await applying, 201)

    # Not refused as "not enrolled here": the service waited for its copy to hold what was published.
    assert applied["status"] == "contact_letter_sent", applied


async def test_an_application_the_copy_would_refuse_is_not_decided_while_the_enrolment_record_says_yes(
    stack: Stack,
) -> None:
    """What the enrolment service has committed and not yet published is not in the copy, however
    caught up with the stream: before a refusal the enrolment service's own record is asked, and
    where it says the person is enrolled and contributing nothing is decided (503, retried later
    with the same key: accepted). Here the copy is put behind by taking the person's months out."""
    await register(stack, "36", NANCHANG, "360102")
    await work(stack, "36", NANCHANG, YOUNG, "2026-10-01", ["2026-10"], ended=None)
    await eventually(lambda: history_in_transfer_service(stack, "36", 1))
    transfer = stack.services[("transfer", "36")].resources.pool
    behind = await transfer.fetch("DELETE FROM history RETURNING *")
    application = {
        "json": {"citizen_id": YOUNG, "from_region": "44"},
        "headers": {**stack.token(), "Idempotency-Key": "apply-behind-1"},
    }

    refused_for_now = await stack.client.post("/v1/regions/36/transfers", **application)
    decided = await transfer.fetchval("SELECT count(*) FROM events WHERE event_type = 'TransferApplied'")
    await transfer.copy_records_to_table("history", records=[tuple(r) for r in behind], columns=list(behind[0].keys()))
    applied = await ok(await stack.client.post("/v1/regions/36/transfers", **application), 201)

    assert refused_for_now.status_code == 503, refused_for_now.text
    assert refused_for_now.json()["type"].rsplit("/", 1)[-1] == "history-copy-behind"
    assert decided == 0
    assert applied["status"] == "contact_letter_sent", applied


async def test_more_applications_waiting_for_the_copy_than_the_service_has_connections_are_all_accepted(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Applications that wait for the copy of the enrolment history wait with no database connection
    held: the copy's consumer needs one to catch up. (With a connection held each, no more of them
    could wait than the pool of four had connections, and the consumer got none until they gave up
    and were refused as not enrolled here.)"""
    waited: list[bool] = []
    applied_up_to_now = HistoryFeed.applied_up_to_now

    async def noted(feed: HistoryFeed) -> bool:
        waited.append(True)
        return await applied_up_to_now(feed)

    monkeypatch.setattr(HistoryFeed, "applied_up_to_now", noted)
    people = [citizen(f"360102199003071{n:02d}") for n in range(20, 26)]
    await register(stack, "36", NANCHANG, "360102")
    transfer = stack.services[("transfer", "36")].resources.pool
    async with transfer.acquire() as held, held.transaction():
        await held.execute("LOCK TABLE employments, history IN EXCLUSIVE MODE")  # the copy waits
        for person in people:  # hired, then the month assessed and paid (the payroll needs no read model)
            hire = {
                "citizen_id": person,
                "employer_credit_code": NANCHANG,
                "hired_on": "2026-10-01",
                "declared_monthly_wage_fen": 800_000,
            }
            await ok(await stack.client.post("/v1/regions/36/employees", json=hire, headers=stack.token()), 201)
        await assess(stack, "36", NANCHANG, "2026-10")
        await pay(stack, "36", NANCHANG, "2026-10")
        applying = [
            asyncio.create_task(
                stack.client.post(
                    "/v1/regions/36/transfers", json={"citizen_id": person, "from_region": "44"}, headers=stack.token()
                )
            )
            for person in people
        ]

        async def all_waiting() -> bool:
            return len(waited) >= len(people)

        await eventually(all_waiting)  # each read a copy without its enrolment, and waits for it
    applied = [await ok(await application, 201) for application in applying]

    assert [a["status"] for a in applied] == ["contact_letter_sent"] * len(people), applied


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
    within_jiangxi = await ok(
        await stack.client.post(
            "/v1/regions/36/transfers", json={"citizen_id": OLDER_MAN, "from_region": "36"}, headers=stack.token()
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
    assert (within_jiangxi["status"], within_jiangxi["months"]) == ("merged", 1)
    assert (pensioner["status"], pensioner["reason_code"]) == ("refused", "pensioner")
    assert pensioner["reason"]
    assert older["status"] == "temporary_account"
