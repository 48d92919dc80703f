"""The dashboard's operations panel for a region, from the real stack: which services answer, what
their outboxes parked, which consumers are behind now (the latest alert of each), and the dead
letters counted by consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from runtime.messaging import DeadLetters
from runtime.watch import alerts_stream
from tests.conftest import Servers
from tests.stack import Stack, running_stack


@pytest.fixture
async def stack(servers: Servers, subject_root: str) -> AsyncIterator[Stack]:
    async with running_stack(servers, subject_root, services=("enrolment",), regions=("36",)) as s:
        yield s


async def panel(stack: Stack) -> dict[str, Any]:
    answer = await stack.client.get("/v1/regions/36/dashboard", headers=stack.token())
    assert answer.status_code == 200, answer.text
    operations: dict[str, Any] = answer.json()["operations"]
    return operations


def alert(region: str, consumer: str, state: str, seconds: float) -> bytes:
    return orjson.dumps(
        {
            "time": "2026-12-05T17:00:00+00:00",
            "region": region,
            "service": "enrolment",
            "stream": "S",
            "consumer": consumer,
            "state": state,
            "seconds": seconds,
            "pending": 120,
            "ack_pending": 0,
            "max_ack_pending": 1000,
            "ack_floor": 7,
        }
    )


async def test_the_services_that_answer_and_what_their_outboxes_parked(stack: Stack) -> None:
    shown = await panel(stack)

    assert shown["services"] == [
        {"service": "enrolment", "answering": True, "ready": True, "parked": 0, "for_other_regions": []},
        *(
            {"service": s, "answering": False, "ready": False, "parked": None, "for_other_regions": None}
            for s in ("transfer", "arrears", "injury")
        ),
    ]
    assert shown["consumers_behind"] == []
    assert shown["projections_behind"] == []
    assert shown["dead_letters"] == {"total": 0, "by_consumer": {}}


async def test_a_consumer_is_behind_until_its_latest_alert_says_it_recovered(stack: Stack) -> None:
    js = stack.services[("enrolment", "36")].resources.nc.jetstream()
    subject = f"{stack.settings.subject_root}.alerts.36.enrolment"
    assert alerts_stream(stack.settings.subject_root).subjects == (f"{stack.settings.subject_root}.alerts.>",)
    await js.publish(subject, alert("36", "calendar-enrolment-36", "saturated", 31.0))
    await js.publish(subject, alert("36", "calendar-enrolment-36", "stalled", 45.5))
    await js.publish(subject, alert("36", "other-36", "stalled", 60.0))
    await js.publish(f"{stack.settings.subject_root}.alerts.44.enrolment", alert("44", "x-44", "stalled", 60.0))
    behind = (await panel(stack))["consumers_behind"]

    await js.publish(subject, alert("36", "calendar-enrolment-36", "recovered", 0.0))
    after = (await panel(stack))["consumers_behind"]

    assert [(a["consumer"], a["state"], a["seconds"]) for a in behind] == [
        ("calendar-enrolment-36", "stalled", 45.5),  # its latest, not each alert; region 44's not shown
        ("other-36", "stalled", 60.0),
    ]
    assert [a["consumer"] for a in after] == ["other-36"]


async def test_a_read_model_is_behind_until_its_projection_recovers_with_what_holds_it_back(stack: Stack) -> None:
    js = stack.services[("enrolment", "36")].resources.nc.jetstream()
    subject = f"{stack.settings.subject_root}.alerts.36.enrolment"
    holder = {"database": "reports", "application": "nightly-export", "pid": 812, "state": "idle in transaction"}
    held = {
        "time": "2026-12-06T01:00:00+00:00",
        "region": "36",
        "service": "enrolment",
        "projection": "employers_view",
        "state": "held-back",
        "seconds": 31.0,
        "position": "7/3",
        "holder": {**holder, "seconds": 340.2},
    }
    await js.publish(subject, alert("36", "calendar-enrolment-36", "saturated", 31.0))
    await js.publish(subject, orjson.dumps(held))
    shown = await panel(stack)

    await js.publish(subject, orjson.dumps({**held, "state": "recovered", "seconds": 0.0, "holder": None}))
    after = await panel(stack)

    assert shown["projections_behind"] == [held]
    assert [a["consumer"] for a in shown["consumers_behind"]] == ["calendar-enrolment-36"]  # each kind its own list
    assert after["projections_behind"] == []


async def test_dead_letters_are_counted_by_consumer(stack: Stack) -> None:
    js = stack.services[("enrolment", "36")].resources.nc.jetstream()
    dead = DeadLetters(js, stack.settings.subject_root)
    for consumer in ("transfer-36-inbox", "transfer-36-inbox", "calendar-enrolment-36"):
        await js.publish(f"{stack.settings.subject_root}.deadletter.{consumer}", b"{}")

    shown = (await panel(stack))["dead_letters"]

    assert shown == {"total": 3, "by_consumer": {"calendar-enrolment-36": 1, "transfer-36-inbox": 2}}
    assert await dead.held_by_consumer() == shown["by_consumer"]


async def test_a_services_connections_carry_its_name_for_the_held_back_alert_to_show(stack: Stack) -> None:
    """A transaction holding every read model back is named by its application name (runtime.watch)."""
    pool = stack.services[("enrolment", "36")].resources.pool
    assert await pool.fetchval("SELECT current_setting('application_name')") == "enrolment-36"


async def test_messages_held_for_another_region_out_of_reach_show_with_their_age(
    servers: Servers, subject_root: str
) -> None:
    """Region 44 is configured but its transfer service is not there (as behind a cut link): a letter
    to it waits in region 36's outbox, held, and the panel says how many and for how long."""
    async with running_stack(servers, subject_root, services=("enrolment",), regions=("36", "44")) as stack:
        pool = stack.services[("enrolment", "36")].resources.pool
        await pool.execute(
            "INSERT INTO outbox (message_id, subject, payload, created_at) "
            "VALUES (gen_random_uuid(), $1, '\\x7b7d', now() - interval '1 hour')",
            f"{subject_root}.44.transfer.inbox.letter.v1",
        )
        enrolment = (await panel(stack))["services"][0]

    assert enrolment["service"] == "enrolment" and enrolment["parked"] == 0  # held, never parked
    assert [(w["region"], w["messages"]) for w in enrolment["for_other_regions"]] == [("44", 1)]
    assert enrolment["for_other_regions"][0]["oldest_seconds"] >= 3600
