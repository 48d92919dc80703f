"""A stream presumed new is not read on a command's first attempt, and the presumption is checked:
an append that finds the stream conflicts, a decision that does not start it runs again reading it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from contracts.subjects import Subjects
from runtime.commands import PresumptionNotConfirmedError, Reply, execute_once
from runtime.eventstore import StreamEvent, Transaction
from runtime.recording import CommandContext, EventRecorder
from runtime.testing import InMemoryEventStore

STREAM = "employer-91360102MA35L0XC0"


@dataclass(frozen=True)
class Registered:
    name: str


class AlreadyRegisteredError(Exception):
    pass


RECORDER: EventRecorder[Registered] = EventRecorder("enrolment", Subjects("t"), [Registered], lambda _e, _s: [])


def context() -> CommandContext:
    return CommandContext.of_system("36", datetime(2026, 12, 4, tzinfo=UTC))


class CountingReads:
    """The transaction, with the streams each decision read."""

    def __init__(self, tx: Transaction, reads: list[str]) -> None:
        self._tx = tx
        self._reads = reads

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    async def load(self, stream_id: str) -> list[StreamEvent]:
        self._reads.append(stream_id)
        return await self._tx.load(stream_id)


class Register:
    """Registers the employer once; refuses a second registration (no event) with a reply saying so."""

    def __init__(self, name: str, *, refuse_bad_names: bool = False) -> None:
        self.name = name
        self.refuse_bad_names = refuse_bad_names
        self.reads: list[str] = []
        self.decisions: list[list[str]] = []

    async def __call__(self, tx: Transaction) -> Reply:
        history, version = await RECORDER.load(CountingReads(tx, self.reads), STREAM, presumed_new=True)  # type: ignore[arg-type]
        self.decisions.append([e.name for e in history])
        if history:
            return {"refused": "already-registered", "as": history[0].name}
        if self.refuse_bad_names and not self.name.isalpha():
            return {"refused": "bad-name"}
        await RECORDER.record(tx, STREAM, version, [Registered(self.name)], context())
        return {"registered": self.name}


async def names(store: InMemoryEventStore) -> list[str]:
    async with store.transaction() as tx:
        return [e.data["name"] for e in await tx.load(STREAM)]


async def test_a_new_stream_is_started_on_the_first_attempt_without_reading_it() -> None:
    store, decide = InMemoryEventStore(), Register("Ganzhou")

    reply = await execute_once(store, uuid4(), decide)

    assert reply == {"registered": "Ganzhou"}
    assert decide.reads == []
    assert await names(store) == ["Ganzhou"]


async def test_a_stream_that_exists_after_all_conflicts_and_the_decision_runs_again_on_it() -> None:
    store = InMemoryEventStore()
    await execute_once(store, uuid4(), Register("Ganzhou"))
    second = Register("Jiujiang")

    reply = await execute_once(store, uuid4(), second)

    assert reply == {"refused": "already-registered", "as": "Ganzhou"}
    assert second.decisions == [[], ["Ganzhou"]]  # presumed new, then read
    assert second.reads == [STREAM]
    assert await names(store) == ["Ganzhou"]


async def test_a_decision_that_does_not_start_the_presumed_stream_is_not_trusted() -> None:
    store = InMemoryEventStore()
    await execute_once(store, uuid4(), Register("Ganzhou"))
    bad_name = Register("Jiu jiang", refuse_bad_names=True)  # refused on the presumption alone, wrongly

    reply = await execute_once(store, uuid4(), bad_name)

    assert reply == {"refused": "already-registered", "as": "Ganzhou"}  # what the stream says comes first
    assert bad_name.reads == [STREAM]


async def test_an_unconfirmed_presumption_with_no_attempt_left_says_which_stream_and_why() -> None:
    store = InMemoryEventStore()
    await execute_once(store, uuid4(), Register("Ganzhou"))

    with pytest.raises(PresumptionNotConfirmedError, match="taken as new") as raised:
        await execute_once(store, uuid4(), Register("Jiu jiang", refuse_bad_names=True), attempts=1)

    assert raised.value.stream_id == STREAM


async def test_the_refusal_of_a_truly_new_stream_stands_after_the_read() -> None:
    store, decide = InMemoryEventStore(), Register("Jiu jiang", refuse_bad_names=True)
    command_id = uuid4()

    reply = await execute_once(store, command_id, decide)

    assert reply == {"refused": "bad-name"}
    assert decide.decisions == [[], []]
    async with store.transaction() as tx:
        assert await tx.reply_for(command_id) == reply
    assert await names(store) == []


async def test_a_retried_command_presumes_again_and_gets_its_first_reply() -> None:
    store, command_id = InMemoryEventStore(), uuid4()
    first = await execute_once(store, command_id, Register("Ganzhou"))

    again = await execute_once(store, command_id, Register("Ganzhou"))

    assert again == first == {"registered": "Ganzhou"}
    assert await names(store) == ["Ganzhou"]


async def test_outside_a_command_a_presumed_stream_is_read() -> None:
    store = InMemoryEventStore()
    await execute_once(store, uuid4(), Register("Ganzhou"))

    async with store.transaction() as tx:
        history, version = await RECORDER.load(tx, STREAM, presumed_new=True)

    assert ([e.name for e in history], version) == (["Ganzhou"], 1)
