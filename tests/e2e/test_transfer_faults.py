"""A transfer through faults: the old region down for weeks, duplicate messages, funds that do not
match the sheet, months unpaid in the old region. Real NATS and PostgreSQL, both regions' services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from contracts.codec import encode
from contracts.envelope import SYSTEM_ACTOR, Channel, envelope_for
from contracts.subjects import Subjects
from contracts.transfer.messages import FundsTransferredV1, InformationSheetV1, PeriodV1
from tests.conftest import Servers
from tests.e2e.working_lives import (
    FOSHAN,
    NANCHANG,
    YOUNG,
    history_in_transfer_service,
    ok,
    pay,
    register,
    work,
)
from tests.stack import Stack, running_stack
from tests.waiting import eventually


@pytest.fixture
async def stack(servers: Servers, subject_root: str) -> AsyncIterator[Stack]:
    async with running_stack(servers, subject_root, services=("enrolment", "transfer"), regions=("36", "44")) as s:
        yield s


async def worked_in_both(stack: Stack, *, unpaid_in_foshan: tuple[str, ...] = ()) -> None:
    """YOUNG worked in Foshan (44) for three months of 2025 and now works in Nanchang (36)."""
    await register(stack, "44", FOSHAN, "440604")
    await register(stack, "36", NANCHANG, "360102")
    months = ["2025-01", "2025-02", "2025-03"]
    await work(stack, "44", FOSHAN, YOUNG, "2025-01-01", months, ended="2026-09-30", unpaid=unpaid_in_foshan)
    await work(stack, "36", NANCHANG, YOUNG, "2026-10-01", ["2026-10"], ended=None)
    await eventually(lambda: history_in_transfer_service(stack, "44", 3 - len(unpaid_in_foshan)))
    await eventually(lambda: history_in_transfer_service(stack, "36", 1))


async def apply(stack: Stack) -> str:
    applied = await ok(
        await stack.client.post(
            "/v1/regions/36/transfers", json={"citizen_id": YOUNG, "from_region": "44"}, headers=stack.token()
        ),
        201,
    )
    assert applied["status"] == "contact_letter_sent"
    case_id: str = applied["case_id"]
    return case_id


async def path(stack: Stack, case_id: str) -> dict[str, Any]:
    """The case's path as an operator sees it; empty until the new region's read model has it."""
    response = await stack.client.get(f"/v1/regions/36/transfers/{case_id}", headers=stack.token())
    if response.status_code == 404:
        return {"status": None, "steps": []}
    body: dict[str, Any] = await ok(response)
    return body


def in_status(stack: Stack, case_id: str, status: str) -> Any:
    async def check() -> dict[str, Any] | None:
        case = await path(stack, case_id)
        return case if case["status"] == status else None

    return check


async def event_types(stack: Stack, region: str, stream_id: str) -> list[str]:
    pool = stack.services[("transfer", region)].resources.pool
    rows = await pool.fetch("SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version", stream_id)
    return [r["event_type"] for r in rows]


async def deadlines_of(stack: Stack, region: str, stream_id: str) -> list[tuple[str, str]]:
    pool = stack.services[("transfer", region)].resources.pool
    rows = await pool.fetch("SELECT kind, status FROM deadlines WHERE stream_id = $1 ORDER BY kind", stream_id)
    return [(r["kind"], r["status"]) for r in rows]


async def inbox_drained(stack: Stack, region: str) -> bool:
    """The transfer inbox consumer of `region` has nothing pending and nothing unacknowledged."""
    running = stack.services[("transfer", region)]
    subjects = Subjects(running.resources.settings.subject_root)
    info = await running.resources.js.consumer_info(
        subjects.inbox_stream(region, "transfer"), f"transfer-{region}-inbox"
    )
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_the_old_region_down_for_weeks_the_deadline_fires_and_the_case_resumes_once(stack: Stack) -> None:
    await worked_in_both(stack)
    await stack.stop("transfer", "44")
    case_id = await apply(stack)

    stack.clock.advance(days=30)  # past 15 working days for the old agency's stage

    async def breached() -> dict[str, Any] | None:
        case = await path(stack, case_id)
        return case if any(s["step"] == "breached:old_agency" for s in case["steps"]) else None

    waiting = await eventually(breached, within=30)
    assert waiting["status"] == "open"
    assert [(s["stage"], s["region"], s["ended_at"] is None, s["breached"]) for s in waiting["stages"]] == [
        ("review", "36", False, False),
        ("old_agency", "44", True, True),
    ]
    at_risk = await ok(await stack.client.get("/v1/regions/36/transfers", headers=stack.token()))
    assert [(t["case_id"], t["three_days"]) for t in at_risk] == [(case_id, "breached")]

    await stack.start("transfer", "44")  # the letter waited in the old region's inbox stream
    case = await eventually(in_status(stack, case_id, "completed"), within=60)

    assert case["within_three_days"] is False
    assert case["individual_fen"] == 3 * 64_000
    assert await event_types(stack, "44", f"transfer-out-{case_id}") == [
        "ContactLetterReceived",
        "InformationSheetIssued",
        "FundsTransferred",
        "LocalRelationshipTerminated",
    ]
    # The new region's clock of the old agency's stage fired; the old region answered the letter as
    # it recorded it, so it never started one of its own.
    assert await deadlines_of(stack, "44", f"transfer-out-{case_id}") == []
    assert await event_types(stack, "36", f"transfer-{case_id}") == [
        "TransferApplied",
        "ContactLetterSent",
        "StageDeadlineBreached",
        "InformationSheetReceived",
        "FundsReceived",
        "TransferCompleted",
    ]


async def test_a_letter_or_funds_message_delivered_again_has_no_second_effect(stack: Stack) -> None:
    await worked_in_both(stack)
    case_id = await apply(stack)
    await eventually(in_status(stack, case_id, "completed"), within=30)
    subjects = Subjects(stack.settings.subject_root)
    js = stack.services[("transfer", "36")].resources.js
    out_before = await event_types(stack, "44", f"transfer-out-{case_id}")
    in_before = await event_types(stack, "36", f"transfer-{case_id}")

    # The same messages again, as a sender that crashed before recording its send would repeat them:
    # new NATS message ids, so neither JetStream's duplicate window nor the inbox table stops them.
    for region, name in (("44", "contact_letter"), ("36", "funds_transferred"), ("36", "information_sheet")):
        original = await js.get_last_msg(
            subjects.inbox_stream(region, "transfer"), subjects.inbox(region, "transfer", name)
        )
        headers = {**(original.headers or {}), "Nats-Msg-Id": str(uuid4())}
        await js.publish(original.subject, original.data, headers=headers)
    await eventually(lambda: inbox_drained(stack, "44"))
    await eventually(lambda: inbox_drained(stack, "36"))

    assert await event_types(stack, "44", f"transfer-out-{case_id}") == out_before
    assert await event_types(stack, "36", f"transfer-{case_id}") == in_before
    assert (await path(stack, case_id))["status"] == "completed"
    # Answered in the decision that recorded it, the letter never started the old agency's stage
    # deadline, and its repetition started none either.
    assert await deadlines_of(stack, "44", f"transfer-out-{case_id}") == []


async def answer_as_old_region(stack: Stack, case_id: str, *messages: tuple[str, Any]) -> None:
    """Publish the old region's answer (sheet, funds) to the new region's inbox, in the order given."""
    subjects = Subjects(stack.settings.subject_root)
    js = stack.services[("transfer", "36")].resources.js
    for name, data in messages:
        message = envelope_for(
            data,
            service="transfer",
            message=name,
            region="44",
            actor=SYSTEM_ACTOR,
            channel=Channel.SYSTEM,
            time=stack.clock.now(),
            correlationid=uuid4(),
        )
        await js.publish(subjects.inbox("36", "transfer", name), encode(message), headers={"Nats-Msg-Id": str(uuid4())})


def sheet_of(case_id: str, month: str) -> InformationSheetV1:
    """One month's sheet from the old region: 64,000 fen to the account, 96,000 pooled."""
    period = PeriodV1(month=month, base_fen=800_000, kind="employee", employer_rate="0.16", account_fen=64_000)
    return InformationSheetV1(
        case_id=case_id, periods=[period], individual_fen=64_000, pooled_fen=96_000, returned_periods=[]
    )


async def test_funds_that_do_not_match_the_sheet_stop_completion_and_are_flagged(stack: Stack) -> None:
    await worked_in_both(stack)
    await stack.stop("transfer", "44")  # the answer below stands in for the old region's
    case_id = await apply(stack)
    funds = FundsTransferredV1(case_id=case_id, amount_fen=160_000 - 1, reference="44-short-by-one-fen")
    await answer_as_old_region(
        stack, case_id, ("information_sheet", sheet_of(case_id, "2025-01")), ("funds_transferred", funds)
    )

    case = await eventually(in_status(stack, case_id, "mismatch"), within=30)

    assert case["reason_code"]
    assert "1" in case["reason"]  # says by how much
    assert "completed" not in {s["step"] for s in case["steps"]}
    assert "TransferCompleted" not in await event_types(stack, "36", f"transfer-{case_id}")


@pytest.mark.parametrize("second", ["funds_transferred", "information_sheet"])
async def test_a_month_paid_in_both_regions_is_flagged_whichever_half_of_the_answer_comes_second(
    stack: Stack, second: str
) -> None:
    await worked_in_both(stack)  # 2026-10 is paid here in Nanchang
    await stack.stop("transfer", "44")
    case_id = await apply(stack)
    funds = FundsTransferredV1(case_id=case_id, amount_fen=160_000, reference="44-in-full")
    halves = {"information_sheet": sheet_of(case_id, "2026-10"), "funds_transferred": funds}
    first = next(name for name in halves if name != second)
    await answer_as_old_region(stack, case_id, (first, halves[first]))
    await eventually(lambda: received(stack, case_id, first), within=30)
    await answer_as_old_region(stack, case_id, (second, halves[second]))

    case = await eventually(in_status(stack, case_id, "mismatch"), within=30)

    assert case["reason_code"] == "overlap"
    assert "2026-10" in case["reason"]
    assert "TransferCompleted" not in await event_types(stack, "36", f"transfer-{case_id}")


async def received(stack: Stack, case_id: str, name: str) -> bool:
    recorded = {"information_sheet": "InformationSheetReceived", "funds_transferred": "FundsReceived"}[name]
    return recorded in await event_types(stack, "36", f"transfer-{case_id}")


async def test_months_unpaid_in_the_old_region_hold_the_answer_until_they_are_paid(stack: Stack) -> None:
    await worked_in_both(stack, unpaid_in_foshan=("2025-03",))
    case_id = await apply(stack)

    async def waiting_in_foshan() -> bool:
        return "UnpaidContributionsFound" in await event_types(stack, "44", f"transfer-out-{case_id}")

    await eventually(waiting_in_foshan, within=30)
    assert (await eventually(in_status(stack, case_id, "open")))["status"] == "open"
    assert await deadlines_of(stack, "44", f"transfer-out-{case_id}") == [("stage:old_agency", "pending")]
    stack.clock.advance(timedelta(hours=5))

    await pay(stack, "44", FOSHAN, "2025-03")
    case = await eventually(in_status(stack, case_id, "completed"), within=30)

    assert case["individual_fen"] == 3 * 64_000
    assert "unpaid_contributions_found" in {s["step"] for s in case["steps"]}
    assert await event_types(stack, "44", f"transfer-out-{case_id}") == [
        "ContactLetterReceived",
        "UnpaidContributionsFound",
        "InformationSheetIssued",
        "FundsTransferred",
        "LocalRelationshipTerminated",
    ]
    assert await deadlines_of(stack, "44", f"transfer-out-{case_id}") == [("stage:old_agency", "cancelled")]
