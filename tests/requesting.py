"""A command or query as the gateway sends it, for a request handler under test."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

from pydantic import BaseModel

from contracts.codec import encode
from contracts.envelope import SYSTEM_ACTOR, Channel, envelope_for
from runtime.messaging import Request


def command_request(
    data: BaseModel,
    *,
    service: str,
    message: str,
    region: str = "36",
    channel: Channel = Channel.SYSTEM,
    command_id: UUID | None = None,
    fingerprint: str | None = None,
) -> Request:
    """`data` in its envelope, sent by the system to `service`'s `message` in `region`."""
    envelope = envelope_for(
        data,
        service=service,
        message=message,
        region=region,
        actor=SYSTEM_ACTOR,
        channel=channel,
        time=datetime(2026, 12, 7, tzinfo=UTC),
        correlationid=uuid4(),
        id=command_id,
        fingerprint=fingerprint,
    )
    return Request(message, f"t.{region}.{service}.cmd.{message}", encode(envelope))
