"""In-memory fakes of the ports, held to the same contract tests as the real adapters."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from runtime.eventstore import (
    AlreadyClaimedError,
    ConcurrencyError,
    Json,
    NewEvent,
    OutboxMessage,
    Position,
    RecordedEvent,
    StreamAppend,
    StreamEvent,
)
from runtime.serialization import to_json


@dataclass
class _State:
    streams: dict[str, list[RecordedEvent]] = field(default_factory=dict)
    log: list[RecordedEvent] = field(default_factory=list)
    outbox: list[OutboxMessage] = field(default_factory=list)
    inbox: set[tuple[str, UUID]] = field(default_factory=set)
    replies: dict[UUID, Json] = field(default_factory=dict)
    event_ids: set[UUID] = field(default_factory=set)
    commits: int = 0


class InMemoryTransaction:
    def __init__(self, state: _State, transaction_id: int) -> None:
        self.state = state
        self.transaction_id = transaction_id
        self.appended: dict[str, int] = {}
        self.committed: list[Callable[[], None]] = []
        self.memo: dict[Any, Any] = {}
        self.unchanged: list[tuple[str, int]] = []
        self.presumed: list[tuple[str, UUID]] = []  # claimed at the commit (`claim_at_commit`)

    def after_commit(self, callback: Callable[[], None]) -> None:
        self.committed.append(callback)

    def expect_unchanged(self, stream_id: str, version: int) -> None:
        self.unchanged.append((stream_id, version))

    async def load(self, stream_id: str) -> list[StreamEvent]:
        return [StreamEvent(e.version, e.event_type, e.data) for e in self.state.streams.get(stream_id, [])]

    async def load_many(
        self, stream_ids: Sequence[str], *, after: Mapping[str, int] | None = None
    ) -> dict[str, list[StreamEvent]]:
        after = after or {}
        return {s: [e for e in await self.load(s) if e.version > after.get(s, 0)] for s in stream_ids}

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        messages: Sequence[OutboxMessage] = (),
    ) -> int:
        stream = self.state.streams.setdefault(stream_id, []) if events else []
        if events and len(stream) != expected_version:
            raise ConcurrencyError(stream_id, expected_version)
        if events:
            self.appended.setdefault(stream_id, expected_version)
        for offset, event in enumerate(events, start=1):
            if event.event_id in self.state.event_ids:
                raise ValueError(f"event id {event.event_id} already stored")
            recorded = RecordedEvent(
                stream_id=stream_id,
                version=expected_version + offset,
                event_id=event.event_id,
                event_type=event.event_type,
                data=to_json(event.data),  # as PostgreSQL gives it back
                metadata=copy.deepcopy(event.metadata),
                recorded_at=datetime.now(UTC),
                at=Position(self.transaction_id, len(self.state.log) + 1),
            )
            stream.append(recorded)
            self.state.log.append(recorded)
            self.state.event_ids.add(event.event_id)
        self.state.outbox.extend(messages)
        return expected_version + len(events)

    async def enqueue(self, messages: Sequence[OutboxMessage]) -> None:
        self.state.outbox.extend(messages)

    async def append_many(self, appends: Sequence[StreamAppend]) -> None:
        for a in appends:  # all at their versions first: none is written otherwise
            if a.events and len(self.state.streams.get(a.stream_id, [])) != a.expected_version:
                raise ConcurrencyError(a.stream_id, a.expected_version)
        for a in appends:
            await self.append(a.stream_id, a.expected_version, a.events, a.messages)

    async def claim(self, consumer: str, message_id: UUID) -> bool:
        key = (consumer, message_id)
        if key in self.state.inbox:
            return False
        self.state.inbox.add(key)
        return True

    async def claim_all(self, consumer: str, message_ids: Sequence[UUID]) -> set[UUID]:
        return {message_id for message_id in message_ids if await self.claim(consumer, message_id)}

    async def claim_at_commit(self, consumer: str, message_ids: Sequence[UUID]) -> None:
        self.presumed += [(consumer, message_id) for message_id in dict.fromkeys(message_ids)]

    async def reply_for(self, command_id: UUID) -> Json | None:
        return self.state.replies.get(command_id)

    async def record_reply(self, command_id: UUID, reply: Json) -> None:
        if command_id in self.state.replies:
            raise ConcurrencyError(f"command {command_id}", 0)
        self.state.replies[command_id] = reply


class InMemoryEventStore:
    """Transactions work on a copy that replaces the state only on a clean exit."""

    def __init__(self) -> None:
        self.state = _State()

    @property
    def outbox(self) -> list[OutboxMessage]:
        return self.state.outbox

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[InMemoryTransaction]:
        base = self.state  # never changed in place: a commit replaces it
        draft = copy.deepcopy(base)
        draft.commits += 1
        tx = InMemoryTransaction(draft, draft.commits)
        yield tx
        # Another transaction may have committed to the same streams meanwhile, as in PostgreSQL.
        for stream_id, version in [*tx.appended.items(), *tx.unchanged]:
            if len(self.state.streams.get(stream_id, [])) != version:
                raise ConcurrencyError(stream_id, version)
        for key in tx.presumed:
            if key in draft.inbox or key in self.state.inbox:
                raise AlreadyClaimedError(f"{key} in the inbox")
            draft.inbox.add(key)
        if replace(draft, commits=base.commits) != base:  # one that only read changes nothing
            draft.commits = max(draft.commits, self.state.commits + 1)
            self.state = draft
        for callback in tx.committed:
            callback()

    async def read_all(
        self, after: Position, limit: int = 1000, *, types: Collection[str] | None = None
    ) -> list[RecordedEvent]:
        return [e for e in self.state.log if e.at > after and (types is None or e.event_type in types)][:limit]
