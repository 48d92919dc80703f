"""Region 36 asks region 44 whether people hold a pension there, over real NATS, answered by 44's own
query handlers from its payroll on real PostgreSQL: questions asked at once go in fewer requests,
each gets its own answer, and a region that cannot answer fails every asker closed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from opentelemetry import trace
from opentelemetry.trace import SpanContext

from contracts.enrolment.commands import MOST_ASKED
from contracts.subjects import Subjects
from enrolment.entrypoints.peers import NatsPensionRegistry, PensionCheckUnavailableError
from enrolment.entrypoints.requests import request_table
from enrolment.payroll import PostgresPeople
from runtime import db
from runtime.clock import SystemClock
from runtime.eventstore import PostgresEventStore
from runtime.messaging import Request, RequestHandler, RequestServer
from tests.integration.enrolment.test_payroll import STEEL, hired, migrations
from tests.stack import span_exporter

# p-000001 .. p-000040 of 44's steelworks hold a pension there from January; the odd ones only work-injury cover.
PEOPLE = 40


def ref(n: int) -> str:
    return f"p-{n:06d}"


class Counted:
    """44's query handlers as they are, counting the requests each name gets."""

    def __init__(self, handlers: dict[str, RequestHandler], names: tuple[str, ...]) -> None:
        self.asked: dict[str, int] = dict.fromkeys(names, 0)
        self.handlers = {name: self._counting(name, handlers[name]) for name in names}

    def _counting(self, name: str, handler: RequestHandler) -> RequestHandler:
        async def handle(request: Request) -> bytes:
            self.asked[name] += 1
            return await handler(request)

        return handle


@pytest.fixture
async def region_44(pool: asyncpg.Pool) -> PostgresPeople:
    await db.migrate(pool, migrations())
    people = PostgresPeople(pool, b"salt")
    async with PostgresEventStore(pool).transaction() as tx:
        for n in range(1, PEOPLE + 1):
            schemes = ("work_injury",) if n % 2 else ("pension", "work_injury")
            await people.hired(tx, [hired(ref(n), STEEL, date(2026, 1, 5), schemes)])
    return people


async def serving(nc: NatsClient, root: str, pool: asyncpg.Pool, people: PostgresPeople, *names: str) -> Counted:
    unused: Any = None  # what the two queries do not touch
    handlers = request_table(
        unused,
        pool,
        SystemClock(),
        recorder=unused,
        rates=unused,
        people_port=people,
        pensions=unused,
        persons=unused,
        deadlines=unused,
    )
    counted = Counted(handlers, names)
    await RequestServer(nc, f"{root}.44.enrolment", counted.handlers).start()
    return counted


@pytest.fixture
async def registry(nc: NatsClient, subject_root: str) -> AsyncIterator[NatsPensionRegistry]:
    yield NatsPensionRegistry(nc, Subjects(subject_root), SystemClock(), region="36", peers=("36", "44"), timeout=2.0)


async def test_questions_asked_at_once_go_together_and_each_gets_its_own_answer(
    nc: NatsClient, subject_root: str, pool: asyncpg.Pool, region_44: PostgresPeople, registry: NatsPensionRegistry
) -> None:
    counted = await serving(nc, subject_root, pool, region_44, "active_pension", "active_pensions")
    asked = [(ref(n), month) for n in range(1, PEOPLE + 1) for month in ("2025-12", "2026-02")]

    answers = await asyncio.gather(*(registry.active_elsewhere(who, month) for who, month in asked))

    assert answers == [int(who[2:]) % 2 == 0 and month == "2026-02" for who, month in asked]
    requests = counted.asked["active_pension"] + counted.asked["active_pensions"]
    assert counted.asked["active_pensions"] >= 1 and requests < len(asked) / 4
    assert await registry.active_elsewhere(ref(2), "2026-03") is True  # alone: asked at once, on its own
    assert await registry.active_elsewhere(ref(99), "2026-03") is False


async def test_more_questions_than_one_request_carries_go_in_several(
    nc: NatsClient, subject_root: str, pool: asyncpg.Pool, region_44: PostgresPeople, registry: NatsPensionRegistry
) -> None:
    counted = await serving(nc, subject_root, pool, region_44, "active_pension", "active_pensions")
    asked = [ref(n % PEOPLE + 1) for n in range(MOST_ASKED + 100)]

    answers = await asyncio.gather(*(registry.active_elsewhere(who, "2026-02") for who in asked))

    assert answers == [int(who[2:]) % 2 == 0 for who in asked]
    assert counted.asked["active_pensions"] == 2 and counted.asked["active_pension"] == 0


async def test_a_region_without_the_joint_question_is_asked_one_person_at_a_time(
    nc: NatsClient, subject_root: str, pool: asyncpg.Pool, region_44: PostgresPeople, registry: NatsPensionRegistry
) -> None:
    counted = await serving(nc, subject_root, pool, region_44, "active_pension")  # an earlier version of 44
    asked = [ref(n) for n in range(1, 11)]

    answers = await asyncio.gather(*(registry.active_elsewhere(who, "2026-02") for who in asked))

    assert answers == [int(who[2:]) % 2 == 0 for who in asked]
    assert counted.asked["active_pension"] == len(asked)


async def test_when_the_region_does_not_answer_every_asker_is_refused(registry: NatsPensionRegistry) -> None:
    outcomes = await asyncio.gather(
        *(registry.active_elsewhere(ref(n), "2026-02") for n in range(1, 6)), return_exceptions=True
    )

    assert all(isinstance(o, PensionCheckUnavailableError) for o in outcomes)
    assert "region 44" in str(outcomes[0])


async def test_the_joint_request_is_in_the_first_askers_trace_and_links_to_the_others(
    nc: NatsClient, subject_root: str, pool: asyncpg.Pool, region_44: PostgresPeople, registry: NatsPensionRegistry
) -> None:
    spans = span_exporter()
    spans.clear()  # the session's spans so far
    await serving(nc, subject_root, pool, region_44, "active_pension", "active_pensions")
    tracer = trace.get_tracer(__name__)

    async def enrolment(n: int) -> SpanContext:
        with tracer.start_as_current_span(f"enrol {n}") as span:
            await registry.active_elsewhere(ref(n), "2026-02")
            return span.get_span_context()

    askers = await asyncio.gather(*(enrolment(n) for n in range(1, 4)))

    (sent,) = [s for s in spans.get_finished_spans() if s.name.endswith("enrolment.query.active_pensions")]
    assert sent.context is not None and sent.context.trace_id == askers[0].trace_id
    assert [link.context for link in sent.links] == askers[1:]
