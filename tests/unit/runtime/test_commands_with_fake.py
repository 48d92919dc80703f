"""execute_once against the in-memory event store: once per command id, all or nothing, retried on conflict."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest

from runtime.commands import Reply, execute_once, run_once
from runtime.eventstore import ConcurrencyError, NewEvent, OutboxMessage, Position, Transaction
from runtime.testing import InMemoryEventStore

STREAM = "employer-91350100M000100Y43"


def event(event_type: str = "EmployerRegistered", **data: object) -> NewEvent:
    return NewEvent(uuid4(), event_type, dict(data), {"command": "test"})


def message(subject: str = "yiwang.36.enrolment.evt.employer_registered.v1") -> OutboxMessage:
    return OutboxMessage(uuid4(), subject, b"{}")


async def stream_types(store: InMemoryEventStore, stream_id: str = STREAM) -> list[str]:
    async with store.transaction() as tx:
        return [e.event_type for e in await tx.load(stream_id)]


async def stored_reply(store: InMemoryEventStore, command_id: UUID) -> Reply | None:
    async with store.transaction() as tx:
        return await tx.reply_for(command_id)


class AppendOnce:
    """A decision that appends one event and one message to the stream at its loaded version."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, tx: Transaction) -> Reply:
        self.calls += 1
        version = len(await tx.load(STREAM))
        new_version = await tx.append(STREAM, version, [event(call=self.calls)], [message()])
        return {"version": new_version, "call": self.calls}


# Once per command id


async def test_a_command_runs_its_decision_and_stores_events_outbox_and_reply_together() -> None:
    store, command_id, decide = InMemoryEventStore(), uuid4(), AppendOnce()

    reply = await execute_once(store, command_id, decide)

    assert reply == {"version": 1, "call": 1}
    assert await stream_types(store) == ["EmployerRegistered"]
    assert len(store.outbox) == 1
    assert await stored_reply(store, command_id) == reply


async def test_the_same_command_id_twice_returns_the_first_reply_and_appends_once() -> None:
    store, command_id, decide = InMemoryEventStore(), uuid4(), AppendOnce()

    first = await execute_once(store, command_id, decide)
    second = await execute_once(store, command_id, decide)

    assert second == first == {"version": 1, "call": 1}
    assert decide.calls == 2  # the retry decided again, found its id answered, and rolled back what it did
    assert await stream_types(store) == ["EmployerRegistered"]
    assert len(store.outbox) == 1


async def test_run_once_says_whether_the_reply_was_stored_before_this_call() -> None:
    store, command_id, decide = InMemoryEventStore(), uuid4(), AppendOnce()

    first = await run_once(store, command_id, decide)
    second = await run_once(store, command_id, decide)

    assert (first.stored_before, second.stored_before) == (False, True)
    assert second.reply == first.reply == {"version": 1, "call": 1}


async def test_a_different_command_id_runs_the_decision_again() -> None:
    store, decide = InMemoryEventStore(), AppendOnce()

    first = await execute_once(store, uuid4(), decide)
    second = await execute_once(store, uuid4(), decide)

    assert (first["version"], second["version"]) == (1, 2)
    assert await stream_types(store) == ["EmployerRegistered", "EmployerRegistered"]
    assert len(store.outbox) == 2


async def test_a_refusal_returned_as_a_reply_is_also_replayed_for_the_same_command_id() -> None:
    store, command_id = InMemoryEventStore(), uuid4()
    answers: Iterator[Reply] = iter([{"ok": False, "problem": "already registered"}, {"ok": True}])

    async def decide(tx: Transaction) -> Reply:
        return next(answers)

    assert await execute_once(store, command_id, decide) == {"ok": False, "problem": "already registered"}
    assert await execute_once(store, command_id, decide) == {"ok": False, "problem": "already registered"}


# All or nothing


async def test_a_decision_that_raises_leaves_nothing_stored() -> None:
    store, command_id = InMemoryEventStore(), uuid4()

    async def decide(tx: Transaction) -> Reply:
        await tx.append(STREAM, 0, [event()], [message()])
        await tx.append("audit", 0, [event("Audited")])
        raise RuntimeError("rule broken after the appends")

    with pytest.raises(RuntimeError, match="rule broken"):
        await execute_once(store, command_id, decide)

    assert await stream_types(store) == []
    assert await stream_types(store, "audit") == []
    assert store.outbox == []
    assert await stored_reply(store, command_id) is None
    assert await store.read_all(Position()) == []


async def test_after_a_failed_decision_the_same_command_id_can_run_again() -> None:
    store, command_id = InMemoryEventStore(), uuid4()
    failing = True

    async def decide(tx: Transaction) -> Reply:
        await tx.append(STREAM, len(await tx.load(STREAM)), [event()], [message()])
        if failing:
            raise RuntimeError("transient")
        return {"ok": True}

    with pytest.raises(RuntimeError):
        await execute_once(store, command_id, decide)
    failing = False

    assert await execute_once(store, command_id, decide) == {"ok": True}
    assert await stream_types(store) == ["EmployerRegistered"]
    assert len(store.outbox) == 1


# Retried on conflict


async def test_a_concurrency_conflict_on_the_first_attempt_is_retried_on_fresh_state() -> None:
    store, command_id = InMemoryEventStore(), uuid4()
    seen_versions: list[int] = []

    async def decide(tx: Transaction) -> Reply:
        version = len(await tx.load(STREAM))
        seen_versions.append(version)
        if len(seen_versions) == 1:
            async with store.transaction() as other:  # another command wins the race and commits
                await other.append(STREAM, version, [event("RivalRegistered")], [message()])
            # The fake cannot see a commit that landed after this transaction began (see the
            # xfail test below), so the first attempt fails the way PostgreSQL would fail it.
            raise ConcurrencyError(STREAM, version)
        new_version = await tx.append(STREAM, version, [event()], [message()])
        return {"version": new_version}

    reply = await execute_once(store, command_id, decide)

    assert seen_versions == [0, 1]
    assert reply == {"version": 2}
    assert await stream_types(store) == ["RivalRegistered", "EmployerRegistered"]
    assert len(store.outbox) == 2
    assert await stored_reply(store, command_id) == reply


async def test_an_append_at_a_stale_version_after_another_commit_is_retried_on_fresh_state() -> None:
    store, command_id = InMemoryEventStore(), uuid4()
    seen_versions: list[int] = []

    async def decide(tx: Transaction) -> Reply:
        version = len(await tx.load(STREAM))
        seen_versions.append(version)
        if len(seen_versions) == 1:
            async with store.transaction() as other:
                await other.append(STREAM, version, [event("RivalRegistered")], [message()])
        new_version = await tx.append(STREAM, version, [event()], [message()])
        return {"version": new_version}

    reply = await execute_once(store, command_id, decide)

    assert seen_versions == [0, 1]
    assert reply == {"version": 2}
    assert await stream_types(store) == ["RivalRegistered", "EmployerRegistered"]


async def test_an_append_at_a_stale_version_within_the_transaction_raises_concurrency_error() -> None:
    store = InMemoryEventStore()

    async with store.transaction() as tx:
        await tx.append(STREAM, 0, [event()])
        with pytest.raises(ConcurrencyError) as raised:
            await tx.append(STREAM, 0, [event()])

    assert (raised.value.stream_id, raised.value.expected_version) == (STREAM, 0)


async def test_conflicts_on_every_attempt_are_reported_after_the_last_one_with_nothing_stored() -> None:
    store, command_id = InMemoryEventStore(), uuid4()
    attempts = 0

    async def decide(tx: Transaction) -> Reply:
        nonlocal attempts
        attempts += 1
        await tx.append(STREAM, 0, [event()], [message()])
        raise ConcurrencyError(STREAM, 0)

    with pytest.raises(ConcurrencyError):
        await execute_once(store, command_id, decide, attempts=3)

    assert attempts == 3
    assert await stream_types(store) == []
    assert store.outbox == []
    assert await stored_reply(store, command_id) is None
