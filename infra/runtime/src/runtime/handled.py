"""The handled-services projection: every public event that completes a service, counted by day and channel.

It is fed from the service's own public events on JetStream (outbox -> NATS -> this consumer),
in the same transaction as the consumer's inbox mark, and can be rebuilt by replaying the stream.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

import asyncpg
from pydantic import BaseModel, ValidationError

from contracts.codec import decode
from runtime.eventstore import PostgresTransaction, Transaction
from runtime.messaging import ConsumerSpec, Delivery, PoisonMessageError
from runtime.workdays import local_date


class _AnyData(BaseModel):
    model_config = {"extra": "allow"}


def handled_consumer(durable: str, stream: str, subjects: tuple[str, ...], counted: Collection[str]) -> ConsumerSpec:
    """A consumer that counts the events whose CloudEvents `type` is in `counted`."""

    async def count(tx: Transaction, delivery: Delivery) -> None:
        try:
            envelope = decode(delivery.data, _AnyData)
        except ValidationError as error:
            raise PoisonMessageError(f"not an envelope: {error.error_count()} errors") from error
        if envelope.type not in counted:
            return
        if not isinstance(tx, PostgresTransaction):
            raise TypeError("the handled-services view lives in PostgreSQL")
        await tx.conn.execute(
            "INSERT INTO handled_services (day, channel, event_type, handled) VALUES ($1, $2, $3, 1) "
            "ON CONFLICT (day, channel, event_type) DO UPDATE SET handled = handled_services.handled + 1",
            local_date(envelope.time),
            envelope.channel.value,
            envelope.type,
        )

    return ConsumerSpec(durable, stream, subjects, count)


async def handled_by_channel(pool: asyncpg.Pool, first: date, last: date) -> list[dict[str, Any]]:
    """Counts per day and channel for days first..last inclusive (Beijing dates)."""
    rows = await pool.fetch(
        "SELECT day, channel, sum(handled)::bigint AS handled FROM handled_services "
        "WHERE day BETWEEN $1 AND $2 GROUP BY day, channel ORDER BY day, channel",
        first,
        last,
    )
    return [{"day": r["day"].isoformat(), "channel": r["channel"], "handled": r["handled"]} for r in rows]
