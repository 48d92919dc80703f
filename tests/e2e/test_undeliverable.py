"""A stream deleted by mistake: the events the service records meanwhile are parked by its outbox
(the rest keep flowing), `yiwang undeliverable` lists them, and once the stream is back (the service
restarted, which creates its streams) `--resend` sends them under their own ids."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.js.errors import NotFoundError

from tests.cli import yiwang
from tests.conftest import Servers
from tests.e2e.working_lives import NANCHANG, register
from tests.stack import Stack, running_stack
from tests.waiting import eventually


@pytest.fixture
async def stack(servers: Servers, subject_root: str) -> AsyncIterator[Stack]:
    async with running_stack(servers, subject_root, services=("enrolment",), regions=("36",)) as s:
        yield s


async def test_events_parked_while_their_stream_was_gone_are_listed_and_resent_after_the_fix(
    stack: Stack, servers: Servers, subject_root: str
) -> None:
    enrolment = stack.services[("enrolment", "36")]
    events = enrolment.parts.events_stream
    assert events is not None
    js = enrolment.resources.nc.jetstream()
    await js.delete_stream(events.name)  # the mistake
    settings = {"nats_url": servers.nats_url, "subject_root": subject_root}

    await register(stack, "36", NANCHANG, "360102")  # served all the same: the read model is fed from the log
    pool = enrolment.resources.pool
    registered = await pool.fetchval("SELECT event_id::text FROM events WHERE event_type = 'EmployerRegistered'")

    async def relayed() -> bool:  # every message has left the outbox: sent, or parked
        return bool(await pool.fetchval("SELECT count(*) = 0 FROM outbox"))

    await eventually(relayed)
    recorded = [r["event_id"] for r in await pool.fetch("SELECT event_id::text FROM events ORDER BY position")]
    shown = await yiwang("undeliverable", "enrolment", "--region", "36", **settings)
    parked = [line.split("\t") for line in shown.out.splitlines()]
    dashboard = (await stack.client.get("/v1/regions/36/dashboard", headers=stack.token())).json()
    with pytest.raises(NotFoundError):
        await js.stream_info(events.name)
    await stack.stop("enrolment", "36")
    enrolment = await stack.start("enrolment", "36")  # the fix: a service creates its streams at start
    js = enrolment.resources.nc.jetstream()
    still = await yiwang("undeliverable", "enrolment", "--region", "36", **settings)
    oldest = await yiwang("undeliverable", "enrolment", "--region", "36", "--limit", "1", **settings)
    resent = await yiwang("undeliverable", "enrolment", "--region", "36", "--resend", **settings)

    async def delivered() -> bool:
        info = await js.stream_info(events.name)
        ids = {
            (await js.get_msg(events.name, seq)).headers["Nats-Msg-Id"]  # type: ignore[index]
            for seq in range(info.state.first_seq, info.state.last_seq + 1)
        } if info.state.messages else set()  # fmt: skip
        return ids >= {row[2] for row in parked}

    await eventually(delivered)
    after = await yiwang("undeliverable", "enrolment", "--region", "36", **settings)

    ids = [row[2] for row in parked]
    assert registered in ids  # with its rate class and the registration deadline's breach (it was late)
    assert [i for i in ids if i in recorded] == [e for e in recorded if e in ids]  # in commit order
    assert all(row[3] == "nats: no response from stream" for row in parked), parked
    assert all(row[1].startswith(f"{subject_root}.36.enrolment.") for row in parked), parked
    assert dashboard["operations"]["services"][0] == {
        "service": "enrolment",
        "answering": True,
        "ready": True,
        "parked": len(parked),  # on the operators' dashboard too
        "for_other_regions": [],  # no other region in this stack
    }
    assert len(still.out.splitlines()) == len(parked)  # a restart does not resend them by itself
    assert oldest.out.splitlines() == ["\t".join(parked[0]), f"... and {len(parked) - 1} more"]
    assert resent.out == f"{len(parked)} queued again in the outbox of enrolment in region 36\n"
    assert after.out == "none\n"
