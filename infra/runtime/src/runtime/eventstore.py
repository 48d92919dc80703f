"""The event store: append with an expected version, load a stream, read everything in order.

One transaction carries a decision: its events, its outbox messages, the command's reply, the
inbox mark of the message that caused it and any deadline, all committed together.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol
from uuid import UUID

import asyncpg
from opentelemetry.trace import SpanKind

from runtime.tracing import leaf_span

Json = dict[str, Any]


class ConcurrencyError(Exception):
    """Someone else appended to the stream since it was loaded: reload and decide again."""

    def __init__(self, stream_id: str, expected_version: int) -> None:
        super().__init__(f"stream {stream_id!r} is no longer at version {expected_version}")
        self.stream_id = stream_id
        self.expected_version = expected_version


@dataclass(frozen=True, slots=True)
class NewEvent:
    event_id: UUID
    event_type: str
    data: Json
    metadata: Json = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message to relay to JetStream once the transaction commits; `message_id` is its Nats-Msg-Id."""

    message_id: UUID
    subject: str
    payload: bytes
    headers: dict[str, str] = field(default_factory=dict)


class Position(NamedTuple):
    """A place in the commit-ordered log: (transaction id, position within the table), ordered as such."""

    transaction_id: int = 0
    position: int = 0


class RecordedEvent(NamedTuple):
    """An event as stored. A named tuple, not a frozen dataclass: a rebuild makes tens of thousands
    a second, and a frozen dataclass costs 2.5 times as much to make."""

    stream_id: str
    version: int
    event_id: UUID
    event_type: str
    data: Json
    metadata: Json
    recorded_at: datetime
    at: Position


class Transaction(Protocol):
    """What a decision may do inside one transaction."""

    async def load(self, stream_id: str) -> list[RecordedEvent]: ...

    async def load_many(self, stream_ids: Sequence[str]) -> dict[str, list[RecordedEvent]]:
        """Several streams in one round trip: each id given maps to its events (empty if none)."""
        ...

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        messages: Sequence[OutboxMessage] = (),
    ) -> int: ...

    async def claim(self, consumer: str, message_id: UUID) -> bool: ...

    async def claim_all(self, consumer: str, message_ids: Sequence[UUID]) -> set[UUID]:
        """Claim many messages at once; returns those not claimed before (one round trip)."""
        ...

    async def reply_for(self, command_id: UUID) -> Json | None: ...

    async def record_reply(self, command_id: UUID, reply: Json) -> None: ...


class EventStore(Protocol):
    def transaction(self) -> Any:
        """An async context manager yielding a Transaction; commits on clean exit."""
        ...

    async def read_all(self, after: Position, limit: int) -> list[RecordedEvent]: ...


_APPEND = """
WITH guard AS (
    SELECT 1 AS ok
    WHERE $2::int = 0 OR EXISTS (SELECT 1 FROM events WHERE stream_id = $1 AND version = $2)
), appended AS (
    INSERT INTO events (stream_id, version, event_id, event_type, data, metadata)
    SELECT $1, $2 + e.ord, e.event_id, e.event_type, e.data, e.metadata
    FROM unnest($3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[])
         WITH ORDINALITY AS e(event_id, event_type, data, metadata, ord), guard
    RETURNING 1
), queued AS (
    INSERT INTO outbox (message_id, subject, payload, headers)
    SELECT m.* FROM unnest($7::uuid[], $8::text[], $9::bytea[], $10::jsonb[]) AS m, guard
    RETURNING 1
)
SELECT (SELECT count(*) FROM appended) AS appended, (SELECT count(*) FROM queued) AS queued
"""

_COLUMNS = "stream_id, version, event_id, event_type, data, metadata, recorded_at, transaction_id, position"

# Rows below the oldest running transaction are final: no commit can land before them any more.
_READ_ALL = f"""
SELECT {_COLUMNS} FROM events
WHERE (transaction_id, position) > ($1::xid8, $2::bigint)
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY transaction_id, position
LIMIT $3
"""


def _recorded(row: asyncpg.Record) -> RecordedEvent:
    stream_id, version, event_id, event_type, data, metadata, recorded_at, transaction_id, position = row  # _COLUMNS
    return RecordedEvent(
        stream_id, version, event_id, event_type, data, metadata, recorded_at, Position(int(transaction_id), position)
    )


class PostgresTransaction:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.queued_messages = 0

    async def load(self, stream_id: str) -> list[RecordedEvent]:
        rows = await self.conn.fetch(f"SELECT {_COLUMNS} FROM events WHERE stream_id = $1 ORDER BY version", stream_id)
        return [_recorded(r) for r in rows]

    async def load_many(self, stream_ids: Sequence[str]) -> dict[str, list[RecordedEvent]]:
        found: dict[str, list[RecordedEvent]] = {stream_id: [] for stream_id in stream_ids}
        rows = await self.conn.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, version",
            list(found),
        )
        for row in rows:
            found[row["stream_id"]].append(_recorded(row))
        return found

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        messages: Sequence[OutboxMessage] = (),
    ) -> int:
        try:
            row = await self.conn.fetchrow(
                _APPEND,
                stream_id,
                expected_version,
                [e.event_id for e in events],
                [e.event_type for e in events],
                [e.data for e in events],
                [e.metadata for e in events],
                [m.message_id for m in messages],
                [m.subject for m in messages],
                [m.payload for m in messages],
                [m.headers for m in messages],
            )
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name == "events_pkey":
                raise ConcurrencyError(stream_id, expected_version) from error
            raise
        if row is None:
            raise RuntimeError("append returned no row")
        if events and row["appended"] == 0:
            raise ConcurrencyError(stream_id, expected_version)
        self.queued_messages += row["queued"]
        return expected_version + len(events)

    async def enqueue(self, messages: Sequence[OutboxMessage]) -> None:
        """Queue messages with no event (e.g. a reply to another region)."""
        await self.append("", 0, (), messages)

    async def claim(self, consumer: str, message_id: UUID) -> bool:
        status = await self.conn.execute(
            "INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            consumer,
            message_id,
        )
        return bool(status == "INSERT 0 1")

    async def claim_all(self, consumer: str, message_ids: Sequence[UUID]) -> set[UUID]:
        rows = await self.conn.fetch(
            "INSERT INTO inbox (consumer, message_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING "
            "RETURNING message_id",
            consumer,
            list(message_ids),
        )
        return {r["message_id"] for r in rows}

    async def reply_for(self, command_id: UUID) -> Json | None:
        reply: Json | None = await self.conn.fetchval(
            "SELECT reply FROM command_replies WHERE command_id = $1", command_id
        )
        return reply

    async def record_reply(self, command_id: UUID, reply: Json) -> None:
        """A retry that ran beside the first attempt loses here: it rolls back, and its rerun finds
        the first attempt's reply."""
        try:
            await self.conn.execute(
                "INSERT INTO command_replies (command_id, reply) VALUES ($1, $2)", command_id, reply
            )
        except asyncpg.UniqueViolationError as error:
            raise ConcurrencyError(f"command {command_id}", 0) from error


_DB = {"db.system.name": "postgresql"}


class PostgresEventStore:
    """The event log of one service's database."""

    def __init__(self, pool: asyncpg.Pool, *, on_commit: Callable[[], None] | None = None) -> None:
        self.pool = pool
        self._on_commit = on_commit

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTransaction]:
        with leaf_span("transaction", kind=SpanKind.CLIENT, attributes=_DB, module=__name__):
            async with self.pool.acquire() as conn:
                tx = PostgresTransaction(conn)
                try:
                    async with conn.transaction():
                        yield tx
                except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError) as error:
                    # Two decisions crossed (e.g. a payment and a deadline on the same stream): decide again.
                    raise ConcurrencyError("(transaction)", -1) from error
        if tx.queued_messages and self._on_commit is not None:
            self._on_commit()

    async def read_all(
        self, after: Position, limit: int = 1000, *, conn: asyncpg.Connection | None = None
    ) -> list[RecordedEvent]:
        """Final events after `after`, in commit order; on `conn` if given (e.g. inside a rebuild)."""
        if conn is not None:
            rows = await conn.fetch(_READ_ALL, after.transaction_id, after.position, limit)
            return [_recorded(r) for r in rows]
        async with self.pool.acquire() as own:
            rows = await own.fetch(_READ_ALL, after.transaction_id, after.position, limit)
        return [_recorded(r) for r in rows]
