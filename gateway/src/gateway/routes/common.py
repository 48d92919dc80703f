"""Pieces every route module uses: region path parameter, idempotency key -> command id."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from fastapi import Header, Path, Request
from pydantic import BaseModel

from contracts.envelope import Actor, Channel
from contracts.identifiers import PROVINCE_CODES

Region = Annotated[str, Path(pattern=r"^[0-9]{2}$", description="2-digit province code (GB/T 2260), e.g. 36 or 44.")]


IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=8,
        max_length=128,
        description="Unique per intended change. A retry with the same key and body gets the first answer; "
        "the same key with another body is refused (422 idempotency-key-reused); a retry while the first "
        "is still running gets 409 idempotency-key-in-use with Retry-After.",
    ),
]
"""A header parameter of the route itself, not a dependency: each dependency FastAPI solves per
request cost the gateway about 30 us (docs/performance.md)."""


async def fingerprint(request: Request) -> str:
    """The request an Idempotency-Key came with (method, path, body), once per request: the service
    refuses the same key with another request."""
    known: str | None = getattr(request.state, "fingerprint", None)
    if known is None:
        digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode())
        digest.update(await request.body())
        known = request.state.fingerprint = digest.hexdigest()
    return known


def command_id(actor: Actor, key: str | None) -> UUID:
    """Retries with the same key from the same caller carry the same command id."""
    if key is None:
        return uuid4()
    return uuid5(NAMESPACE_URL, f"yiwang:{actor.kind}:{actor.id}:{key}")


def known_region(region: str) -> bool:
    return region in PROVINCE_CODES


async def send(
    request: Request,
    service: str,
    region: str,
    name: str,
    data: BaseModel,
    actor: Actor,
    channel: Channel = Channel.SYSTEM,
    key: str | None = None,
    kind: str = "cmd",
) -> Any:
    """One command or query to a region's service; a command's id comes from the Idempotency-Key."""
    return await request.app.state.bus.send(
        region=region,
        service=service,
        name=name,
        data=data,
        actor=actor,
        channel=channel,
        kind=kind,
        message_id=command_id(actor, key) if kind == "cmd" else None,
        fingerprint=await fingerprint(request) if kind == "cmd" and key is not None else None,
    )
