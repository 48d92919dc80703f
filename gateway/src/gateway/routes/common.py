"""Pieces every route module uses: region path parameter, idempotency key -> command id."""

from __future__ import annotations

from typing import Annotated
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from fastapi import Header, Path

from contracts.envelope import Actor
from contracts.identifiers import PROVINCE_CODES

Region = Annotated[str, Path(pattern=r"^[0-9]{2}$", description="2-digit province code (GB/T 2260), e.g. 36 or 44.")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=8,
        max_length=128,
        description="Unique per intended change; a retry with the same key gets the first answer.",
    ),
]


def command_id(actor: Actor, key: str | None) -> UUID:
    """Retries with the same key from the same caller carry the same command id."""
    if key is None:
        return uuid4()
    return uuid5(NAMESPACE_URL, f"yiwang:{actor.kind}:{actor.id}:{key}")


def known_region(region: str) -> bool:
    return region in PROVINCE_CODES
