"""A command whose id came before (`runtime.requests.command`, `command_across`), against the in-memory
event store: answered with the stored reply marked `replayed`, deciding nothing again; another request
under the same id is refused, not replayed."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel

from contracts.envelope import Channel
from contracts.replies import Reply
from runtime.clock import FixedClock
from runtime.eventstore import EventStore, NewEvent, Transaction
from runtime.messaging import Request
from runtime.recording import CommandContext
from runtime.requests import command, command_across
from runtime.testing import InMemoryEventStore
from tests.requesting import command_request


class Settle(BaseModel):
    number: str


class AlreadySettledError(Exception):
    pass


ERRORS = {AlreadySettledError: (409, "already-settled")}


def _request(command_id: UUID, number: str = "JS-1", fingerprint: str | None = None) -> Request:
    return command_request(
        Settle(number=number),
        service="injury",
        message="settle",
        channel=Channel.PARTNER,
        command_id=command_id,
        fingerprint=fingerprint,
    )


async def _events(store: InMemoryEventStore, stream: str) -> int:
    async with store.transaction() as tx:
        return len(await tx.load(stream))


async def settle(tx: Transaction, data: Settle, ctx: CommandContext) -> dict[str, Any]:
    stream = f"settlement-{data.number}"
    version = len(await tx.load(stream))
    if version:
        raise AlreadySettledError(data.number)
    await tx.append(stream, 0, [NewEvent(uuid4(), "Settled", {}, {})])
    return {"number": data.number}


async def test_a_command_id_answered_before_gets_the_stored_reply_marked_replayed() -> None:
    store = InMemoryEventStore()
    handle = command(store, FixedClock(), Settle, settle, ERRORS)
    command_id = uuid4()

    first = Reply.model_validate_json(await handle(_request(command_id)))
    again = Reply.model_validate_json(await handle(_request(command_id)))
    other = Reply.model_validate_json(await handle(_request(uuid4())))  # a new id, the same number

    assert (first.ok, first.replayed, first.result) == (True, None, {"number": "JS-1"})
    assert (again.ok, again.replayed, again.result) == (True, True, {"number": "JS-1"})
    assert (other.ok, other.replayed) == (False, None)  # decided: the number is settled
    assert other.problem is not None and other.problem.type.endswith("/already-settled")


async def test_a_stored_refusal_is_replayed_as_a_refusal() -> None:
    store = InMemoryEventStore()
    handle = command(store, FixedClock(), Settle, settle, ERRORS)
    await handle(_request(uuid4()))
    refused_id = uuid4()

    first = Reply.model_validate_json(await handle(_request(refused_id)))
    again = Reply.model_validate_json(await handle(_request(refused_id)))

    assert (first.ok, first.replayed, again.ok, again.replayed) == (False, None, False, True)
    assert again.problem == first.problem


async def test_another_request_under_the_same_id_is_refused_not_replayed() -> None:
    store = InMemoryEventStore()
    handle = command(store, FixedClock(), Settle, settle, ERRORS)
    command_id = uuid4()
    await handle(_request(command_id, fingerprint="a" * 64))

    reused = Reply.model_validate_json(await handle(_request(command_id, "JS-2", fingerprint="b" * 64)))

    assert (reused.ok, reused.replayed) == (False, None)
    assert reused.problem is not None and reused.problem.type.endswith("/idempotency-key-reused")
    assert await _events(store, "settlement-JS-2") == 0


async def test_a_command_across_aggregates_answered_before_is_replayed_and_not_run_again() -> None:
    store = InMemoryEventStore()
    runs: list[str] = []

    async def run(store: EventStore, data: Settle, ctx: CommandContext) -> dict[str, Any]:
        runs.append(data.number)
        return {"number": data.number}

    handle = command_across(store, FixedClock(), Settle, run, ERRORS)
    command_id = uuid4()

    first = Reply.model_validate_json(await handle(_request(command_id)))
    again = Reply.model_validate_json(await handle(_request(command_id)))

    assert (first.replayed, again.replayed, again.result) == (None, True, {"number": "JS-1"})
    assert runs == ["JS-1"]
