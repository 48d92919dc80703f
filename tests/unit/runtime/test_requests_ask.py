"""A command that asks another service first (`runtime.requests.command`'s `ask`), against the
in-memory event store: asked before any transaction opens, its answers passed to the decision, and
a refusal it raises answered without storing anything."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel

from contracts.replies import Reply
from runtime.clock import FixedClock
from runtime.eventstore import Transaction
from runtime.messaging import Request
from runtime.recording import CommandContext
from runtime.requests import command
from runtime.testing import InMemoryEventStore
from tests.requesting import command_request


class Enrol(BaseModel):
    person: str


class OtherRegionDownError(Exception):
    pass


ERRORS = {OtherRegionDownError: (503, "pension-check-unavailable")}


class WatchedStore(InMemoryEventStore):
    """The in-memory store, noting when a transaction opens beside what the command's parts note."""

    def __init__(self, order: list[str]) -> None:
        super().__init__()
        self.order = order

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        self.order.append("transaction")
        async with super().transaction() as tx:
            yield tx


def _request(person: str, command_id: UUID | None = None) -> Request:
    return command_request(Enrol(person=person), service="enrolment", message="enrol", command_id=command_id)


async def test_the_answers_are_asked_before_the_transaction_opens_and_passed_to_the_decision() -> None:
    order: list[str] = []
    store = WatchedStore(order)

    async def ask(data: Enrol, ctx: CommandContext) -> Mapping[str, Any]:
        order.append("ask")
        return {"elsewhere": data.person == "p-2"}

    async def decide(tx: Transaction, data: Enrol, ctx: CommandContext, *, elsewhere: bool) -> dict[str, Any]:
        order.append("decide")
        await tx.append(f"person-{data.person}", 0, [])
        return {"person": data.person, "elsewhere": elsewhere}

    handle = command(store, FixedClock(), Enrol, decide, ERRORS, ask=ask)
    first = Reply.model_validate_json(await handle(_request("p-1")))
    second = Reply.model_validate_json(await handle(_request("p-2")))

    assert (first.result, second.result) == (
        {"person": "p-1", "elsewhere": False},
        {"person": "p-2", "elsewhere": True},
    )
    assert order == ["ask", "transaction", "decide"] * 2


async def test_a_refusal_the_question_raises_is_answered_and_nothing_is_stored_so_a_retry_asks_again() -> None:
    order: list[str] = []
    store = WatchedStore(order)
    down = True

    async def ask(data: Enrol, ctx: CommandContext) -> Mapping[str, Any]:
        order.append("ask")
        if down:
            raise OtherRegionDownError("region 44 did not answer")
        return {"elsewhere": False}

    async def decide(tx: Transaction, data: Enrol, ctx: CommandContext, *, elsewhere: bool) -> dict[str, Any]:
        return {"elsewhere": elsewhere}

    handle = command(store, FixedClock(), Enrol, decide, ERRORS, ask=ask)
    command_id = uuid4()
    refused = Reply.model_validate_json(await handle(_request("p-1", command_id)))
    down = False
    retried = Reply.model_validate_json(await handle(_request("p-1", command_id)))

    assert refused.ok is False and refused.problem is not None and refused.problem.status == 503
    assert order == ["ask", "ask", "transaction"]  # the refusal opened no transaction
    assert retried.ok is True and retried.result == {"elsewhere": False}
