"""The wage-arrears use cases on the in-memory event store: deduplicated intake, timers kept in step
with each decision, supervision when a timer fires, the review sample at closure, public events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any, TypeVar
from uuid import uuid4

import pytest

from arrears.application import cases, leads, reviews
from arrears.application.aggregates import Keeping
from arrears.application.deadlines import deadline_passed
from arrears.domain.errors import CaseNotFoundError, UnknownDistrictError, UnknownWorkerError, UnpaidWagesError
from arrears.domain.events import EVENT_TYPES
from arrears.domain.values import Channel
from arrears.translation import step_of, to_public
from contracts.arrears import commands as c
from contracts.envelope import SYSTEM_ACTOR, Actor, ActorKind
from contracts.envelope import Channel as EnvelopeChannel
from contracts.identifiers import citizen_id_check_character, credit_code_check_character
from contracts.subjects import Subjects
from runtime.commands import execute_once
from runtime.eventstore import Transaction
from runtime.recording import CommandContext, EventRecorder
from runtime.testing import InMemoryEventStore
from tests.unit.arrears.test_arrears_events import SAMPLES

T = TypeVar("T")

NOW = datetime(2026, 3, 16, 1, 0, tzinfo=UTC)  # Monday 09:00 in Beijing
TODAY = date(2026, 3, 16)
SALT = b"unit-test-salt-0123456789"
EMPLOYER = "91360111MA38QW1K0" + credit_code_check_character("91360111MA38QW1K0")
ZHANG = "36011119880512301" + citizen_id_check_character("36011119880512301")
LI = "36010319950101452" + citizen_id_check_character("36010319950101452")
DISTRICTS = frozenset({"360102", "360103", "360111", "360113"})


class FakeTimers:
    """Records what the use cases ask of the durable timers; `pending` is what would fire."""

    def __init__(self) -> None:
        self.pending: dict[tuple[str, str], dict[str, Any]] = {}
        self.cancelled: list[tuple[str, str]] = []

    async def schedule(
        self,
        tx: Transaction,
        *,
        stream_id: str,
        kind: str,
        basis: date,
        calendar_days: int = 0,
        working_days: int = 0,
        payload: dict[str, Any],
    ) -> None:
        self.pending[(stream_id, kind)] = {
            "basis": basis,
            "calendar_days": calendar_days,
            "working_days": working_days,
            **payload,
        }

    async def cancel(self, tx: Transaction, *, stream_id: str, kind: str) -> None:
        self.cancelled.append((stream_id, kind))
        self.pending.pop((stream_id, kind), None)


class World:
    def __init__(self) -> None:
        self.store = InMemoryEventStore()
        self.timers = FakeTimers()
        recorder = EventRecorder("arrears", Subjects("t"), EVENT_TYPES, partial(to_public, region="36"))
        self.keep = Keeping(recorder, self.timers, review_sample_percent=0)

    def ctx(
        self, now: datetime = NOW, channel: EnvelopeChannel = EnvelopeChannel.HOTLINE, actor: Actor = SYSTEM_ACTOR
    ) -> CommandContext:
        command_id = uuid4()
        return CommandContext(
            command_id=command_id,
            correlation_id=command_id,
            causation_id=None,
            actor=actor,
            channel=channel,
            region="36",
            now=now,
        )

    async def run(self, step: Callable[[Transaction], Awaitable[T]]) -> T:
        async with self.store.transaction() as tx:
            return await step(tx)

    async def types(self, stream_id: str) -> list[str]:
        return [r.event_type for r in await self.run(lambda tx: tx.load(stream_id))]

    async def once(self, step: Callable[[Transaction], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        """A decision run as the service runs a command: once per id, a stream presumed new read only
        when the presumption fails (`runtime.commands`)."""
        return await execute_once(self.store, uuid4(), step)

    async def receive(self, command: c.ReceiveComplaint, **ctx: Any) -> dict[str, Any]:
        return await self.once(
            lambda tx: leads.receive_complaint(
                tx, command, self.ctx(**ctx), keep=self.keep, districts=DISTRICTS, salt=SALT
            )
        )

    async def accept(self, lead_id: str, now: datetime = NOW) -> dict[str, Any]:
        return await self.once(
            lambda tx: leads.accept_complaint(tx, c.AcceptComplaint(lead_id=lead_id), self.ctx(now), keep=self.keep)
        )


def complaint(*workers: tuple[str, int], **changes: Any) -> c.ReceiveComplaint:
    body: dict[str, Any] = {
        "received_by": "360111",
        "employer_credit_code": EMPLOYER,
        "employer_name": "南昌某建筑劳务有限公司",
        "division_code": "360102",
        "industry_code": "E4700",
        "workers": [{"citizen_id": cid, "claimed_fen": fen} for cid, fen in workers],
        "period_from": "2025-11-01",
        "period_to": "2026-01-31",
    }
    return c.ReceiveComplaint.model_validate({**body, **changes})


def test_every_request_channel_is_a_complaint_channel() -> None:
    assert set(leads.CHANNELS) == set(EnvelopeChannel)
    assert leads.CHANNELS[EnvelopeChannel.MOBILE_APP] is Channel.APP


def test_the_lead_id_is_a_keyed_hash_of_the_deduplication_key() -> None:
    one = leads.lead_id_of(complaint((ZHANG, 1), (LI, 2)), SALT)
    assert one == leads.lead_id_of(complaint((LI, 5), (ZHANG, 7), received_by="360103"), SALT)
    assert one != leads.lead_id_of(complaint((ZHANG, 1)), SALT)
    assert one != leads.lead_id_of(complaint((ZHANG, 1), (LI, 2)), b"another-salt-0123456789")
    assert len(one) == 16 and ZHANG not in one
    assert (
        leads.case_id_of(one) == leads.case_id_of(one) != leads.case_id_of(leads.lead_id_of(complaint((LI, 1)), SALT))
    )


async def test_intake_routes_to_the_known_district_and_starts_the_acceptance_timer_once() -> None:
    world = World()
    first = await world.receive(complaint((ZHANG, 680_000)))
    stream = f"arrears-lead-{first['lead_id']}"
    assert (first["status"], first["district"], first["reported_again"]) == ("routed", "360102", False)
    assert world.timers.pending == {
        (stream, "stage:acceptance"): {
            "basis": TODAY,
            "calendar_days": 0,
            "working_days": 5,
            "stage": "acceptance",
            "escalation": False,
        }
    }
    again = await world.receive(complaint((ZHANG, 680_000), received_by="360103"), channel=EnvelopeChannel.COUNTER)
    assert (again["lead_id"], again["reported_again"], again["reports"]) == (first["lead_id"], True, 2)
    assert world.timers.cancelled == []
    assert await world.types(stream) == ["LeadReceived", "LeadRouted", "LeadReportedAgain"]


async def test_routing_on_restarts_the_clock_and_an_unknown_district_is_refused() -> None:
    world = World()
    lead_id = (await world.receive(complaint((ZHANG, 680_000))))["lead_id"]
    stream = f"arrears-lead-{lead_id}"
    later = NOW + timedelta(days=2)

    def route(to: str) -> Callable[[Transaction], Awaitable[dict[str, Any]]]:
        command = c.RouteLead(lead_id=lead_id, to_district=to, reason="项目在红谷滩")
        return lambda tx: leads.route_lead(tx, command, world.ctx(later), keep=world.keep, districts=DISTRICTS)

    with pytest.raises(UnknownDistrictError):
        await world.run(route("360199"))
    routed = await world.run(route("360113"))
    assert (routed["district"], routed["hops"]) == ("360113", 2)
    assert world.timers.cancelled == [(stream, "stage:acceptance")]
    assert world.timers.pending[(stream, "stage:acceptance")]["basis"] == TODAY + timedelta(days=2)


async def test_acceptance_files_the_case_and_swaps_the_acceptance_timer_for_the_investigation_timer() -> None:
    world = World()
    lead_id = (await world.receive(complaint((ZHANG, 680_000))))["lead_id"]
    accepted = await world.accept(lead_id)
    case_id = accepted["case_id"]
    assert (accepted["status"], accepted["case_status"], case_id) == (
        "accepted",
        "investigating",
        leads.case_id_of(lead_id),
    )
    assert await world.types(f"arrears-case-{case_id}") == ["CaseFiled"]
    assert list(world.timers.pending) == [(f"arrears-case-{case_id}", "stage:investigation")]
    assert world.timers.pending[(f"arrears-case-{case_id}", "stage:investigation")]["working_days"] == 60


async def test_a_fired_acceptance_timer_opens_supervision_and_sets_the_escalation_timer() -> None:
    world = World()
    lead_id = (await world.receive(complaint((ZHANG, 680_000))))["lead_id"]
    stream = f"arrears-lead-{lead_id}"
    due = datetime(2026, 3, 23, 16, 0, tzinfo=UTC)
    fired = due + timedelta(seconds=1)

    def fire(at: datetime, due_at: datetime) -> Callable[[Transaction], Awaitable[None]]:
        payload = {"stage": "acceptance", "escalation": False}
        return lambda tx: deadline_passed(
            tx, stream, "stage:acceptance", payload, due_at, world.ctx(at), keep=world.keep
        )

    await world.run(fire(fired, due))
    assert (await world.types(stream))[-1] == "SupervisionOpened"
    escalation = world.timers.pending[(stream, "stage:acceptance")]
    assert (escalation["basis"], escalation["working_days"], escalation["escalation"]) == (
        date(2026, 3, 24),
        5,
        True,
    )
    await world.run(fire(fired, due))  # the same timer again: stale, nothing happens
    assert (await world.types(stream)).count("SupervisionOpened") == 1
    escalate_due = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
    await world.run(fire(escalate_due, escalate_due))
    assert (await world.types(stream))[-1] == "SupervisionEscalated"
    assert world.timers.pending == {}


async def test_a_payment_order_has_its_own_timer_and_closing_cancels_every_timer() -> None:
    world = World()
    case_id = (await world.accept((await world.receive(complaint((ZHANG, 680_000), (LI, 100_000))))["lead_id"]))[
        "case_id"
    ]
    stream = f"arrears-case-{case_id}"
    order = c.OrderPayment(case_id=case_id, liable_party=EMPLOYER, due_on=TODAY + timedelta(days=7))
    ordered = await world.run(lambda tx: cases.order_payment(tx, order, world.ctx(), keep=world.keep))
    assert (ordered["order_id"], ordered["amount_fen"]) == ("order-1", 780_000)
    assert world.timers.pending[(stream, "order_due:order-1")] == {
        "basis": TODAY + timedelta(days=6),
        "calendar_days": 1,
        "working_days": 0,
        "order_id": "order-1",
    }

    close = c.CloseCase(case_id=case_id)
    with pytest.raises(UnpaidWagesError):
        await world.run(lambda tx: cases.close_case(tx, close, world.ctx(), keep=world.keep))
    payments = [
        c.WorkerPaymentV1(citizen_id=ZHANG, amount_fen=680_000),
        c.WorkerPaymentV1(citizen_id=LI, amount_fen=100_000),
    ]
    paid = c.RecordWagesPaid(case_id=case_id, payer=EMPLOYER, payments=payments)
    await world.run(lambda tx: cases.record_wages_paid(tx, paid, world.ctx(), keep=world.keep))
    closed = await world.run(lambda tx: cases.close_case(tx, close, world.ctx(), keep=world.keep))
    assert (closed["status"], closed["unpaid_fen"]) == ("closed", 0)
    assert world.timers.pending == {}
    assert set(world.timers.cancelled) >= {(stream, "stage:investigation"), (stream, "order_due:order-1")}


async def test_the_review_sample_is_drawn_at_closure_and_a_failed_review_restarts_the_clock() -> None:
    world = World()
    world.keep = Keeping(world.keep.recorder, world.timers, review_sample_percent=100)
    case_id = (await world.accept((await world.receive(complaint((ZHANG, 680_000))))["lead_id"]))["case_id"]
    stream = f"arrears-case-{case_id}"
    paid = c.RecordWagesPaid(
        case_id=case_id, payer=EMPLOYER, payments=[c.WorkerPaymentV1(citizen_id=ZHANG, amount_fen=680_000)]
    )
    await world.run(lambda tx: cases.record_wages_paid(tx, paid, world.ctx(), keep=world.keep))
    closed = await world.run(
        lambda tx: cases.close_case(tx, c.CloseCase(case_id=case_id), world.ctx(), keep=world.keep)
    )
    assert (closed["status"], closed["review"]) == ("reviewing", "sample")
    assert world.timers.pending == {}

    reopened_at = NOW + timedelta(days=20)
    failed = c.RecordReview(
        case_id=case_id,
        passed=False,
        reviewer="陈某",
        findings="工资未实际到账",
        not_received=[c.WorkerPaymentV1(citizen_id=ZHANG, amount_fen=680_000)],
    )
    result = await world.run(lambda tx: reviews.record_review(tx, failed, world.ctx(reopened_at), keep=world.keep))
    assert (result["status"], result["unpaid_fen"], result["reopened"]) == ("investigating", 680_000, 1)
    assert world.timers.pending[(stream, "stage:investigation")]["basis"] == TODAY + timedelta(days=20)


async def test_a_dispute_is_checked_against_the_case_itself_and_an_outsider_is_told_not_found() -> None:
    world = World()
    case_id = (await world.accept((await world.receive(complaint((ZHANG, 680_000))))["lead_id"]))["case_id"]
    paid = c.RecordWagesPaid(
        case_id=case_id, payer=EMPLOYER, payments=[c.WorkerPaymentV1(citizen_id=ZHANG, amount_fen=680_000)]
    )
    await world.run(lambda tx: cases.record_wages_paid(tx, paid, world.ctx(), keep=world.keep))
    await world.run(lambda tx: cases.close_case(tx, c.CloseCase(case_id=case_id), world.ctx(), keep=world.keep))
    later = NOW + timedelta(days=3)

    def dispute(citizen_id: str, actor: Actor) -> Callable[[Transaction], Awaitable[dict[str, Any]]]:
        command = c.DisputeCase(case_id=case_id, citizen_id=citizen_id)
        return lambda tx: reviews.dispute_case(tx, command, world.ctx(later, actor=actor), keep=world.keep)

    # A worker the case does not name learns nothing of it; an operator naming one is told why.
    with pytest.raises(CaseNotFoundError):
        await world.run(dispute(LI, Actor(kind=ActorKind.CITIZEN, id="citizen")))
    with pytest.raises(UnknownWorkerError):
        await world.run(dispute(LI, Actor(kind=ActorKind.OPERATOR, id="clerk-1")))
    assert (await world.types(f"arrears-case-{case_id}"))[-1] == "CaseClosed"

    disputed = await world.run(dispute(ZHANG, Actor(kind=ActorKind.CITIZEN, id="citizen")))
    assert (disputed["status"], disputed["review"]) == ("reviewing", "dispute")


def test_every_event_leaves_as_one_public_message_without_citizen_ids() -> None:
    for event in SAMPLES:
        (published,) = to_public(event, "arrears-x", region="36")
        assert "440305199001011234" not in published.data.model_dump_json()
    assert step_of("LeadReportedAgain") == "lead_reported_again"
