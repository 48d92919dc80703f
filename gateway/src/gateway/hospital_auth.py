"""Hospital requests: each signed with the hospital's own key, within 5 minutes, never replayed.

Every request of an agreement institution carries four headers:

    X-Hospital-Id   the hospital's code, e.g. H36001
    X-Timestamp     unix seconds when it was signed
    X-Message-Id    unique per request (a retry is a new request: new id, new signature), <= 128 chars
    X-Signature     hex HMAC-SHA256 of `contracts.signing.canonical_string` with the hospital's key

The raw body is verified before anything parses it. Keys come from `YIWANG_HOSPITAL_KEYS` (JSON,
`{"H36001": ["new-key", "old-key"]}`: two keys are valid while a hospital rotates). A message id is
used once, whichever gateway replica gets it again:

- a signed write sends a command whose id is made from the hospital and the message id
  (`Signed.command_id`): the service stores its reply in the transaction that decides it, and
  answers a second use with that reply marked `replayed`, which the gateway refuses
  (`replayed`, through the bus's `used_before`). No round trip of its own: the id is the
  command's, stored with its events. A write that stored nothing (a malformed body, the service
  unreachable or failing) decided nothing either: sent again under its id, it runs as a retry would;
- a signed read stores nothing, so its id is remembered for twice the window in a JetStream
  key-value bucket that every replica shares; `create` fails when the id is there. The bucket is
  kept in memory (replicated like the streams, no fsync per request): a whole JetStream cluster
  restarting forgets the ids of the last ten minutes, and a read captured in them could be
  replayed within its five minutes, returning what the captured answer already held. A bucket made
  earlier on disk stays on disk.

A refused request (401 problem+json) changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Protocol
from uuid import NAMESPACE_URL, UUID, uuid5

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.models import APIKey, APIKeyIn
from fastapi.security.base import SecurityBase
from nats.js import JetStreamContext
from nats.js.api import StorageType
from nats.js.errors import BucketNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from contracts.envelope import Actor, ActorKind
from contracts.replies import problem
from contracts.signing import TOLERANCE, MissingSignatureError, SignatureError, verify
from gateway.problems import ProblemError

REMEMBER_SECONDS = 2 * TOLERANCE.total_seconds()
MAX_MESSAGE_ID = 128


class ReplayGuard(Protocol):
    async def first_use(self, hospital_id: str, message_id: str) -> bool:
        """True the first time a hospital's message id is seen (across replicas), False after."""
        ...


class NatsReplayGuard:
    """Message ids in a JetStream key-value bucket with a TTL longer than the signature window."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext, subject_root: str, *, replicas: int) -> NatsReplayGuard:
        bucket = f"{subject_root.upper()}_HOSPITAL_MESSAGES"
        try:
            kv = await js.key_value(bucket)
        except BucketNotFoundError:
            kv = await js.create_key_value(
                bucket=bucket, ttl=REMEMBER_SECONDS, history=1, replicas=replicas, storage=StorageType.MEMORY
            )
        return cls(kv)

    async def first_use(self, hospital_id: str, message_id: str) -> bool:
        key = hashlib.sha256(f"{hospital_id}\n{message_id}".encode()).hexdigest()  # any id, a valid key
        try:
            await self.kv.create(key, b"1")
        except KeyWrongLastSequenceError:
            return False
        return True


@asynccontextmanager
async def replay_guard(app: FastAPI) -> AsyncIterator[None]:
    """Opened after the gateway's own lifespan has connected to NATS (router lifespans nest inside)."""
    settings = app.state.settings
    app.state.replay_guard = await NatsReplayGuard.open(
        app.state.js, settings.subject_root, replicas=settings.jetstream_replicas
    )
    yield


@dataclass(frozen=True, slots=True)
class Signed:
    """A request a hospital's key signed: who, and its message id (used once)."""

    actor: Actor
    message_id: str

    @property
    def command_id(self) -> UUID:
        """The id of the command a signed write sends: its service answers a second use `replayed`."""
        return uuid5(NAMESPACE_URL, f"yiwang:signed:{self.actor.id}:{self.message_id}")


def replayed() -> ProblemError:
    """The answer to a message id's second use."""
    return refused(
        "signature-replayed",
        "this message id was already used: every request, a retry too, is signed anew with a new message id",
    )


# A signed read: its message id is kept in the bucket. Any other signed request is a write, which must
# send its command under `Signed.command_id` with `used_before=replayed` (`routes.injury._send_signed`):
# nothing else refuses its replay.
SAFE_METHODS = frozenset({"GET", "HEAD"})


def refused(code: str, detail: str) -> ProblemError:
    return ProblemError(
        problem(code, "Unauthorized", 401, detail), {"WWW-Authenticate": 'HMAC-SHA256 realm="hospitals"'}
    )


def request_target(request: Request) -> str:
    """The path the hospital signed: the request target as sent, query string included."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


class HospitalSignature(SecurityBase):
    """The hospital whose key signed this request; 401 when unsigned, badly signed, expired or replayed.

    OpenAPI shows it as the `hospital-signature` security scheme, naming the four headers. They are
    read here, not declared as parameters: FastAPI's handling of each declared header cost the
    gateway about 20 us a request, a tenth of its in-process work on a settlement (docs/performance.md).
    """

    def __init__(self) -> None:
        self.model = APIKey(
            **{"in": APIKeyIn.header},
            name="X-Signature",
            description="Hex HMAC-SHA256 of `contracts.signing.canonical_string` with the hospital's key, sent "
            "with `X-Hospital-Id` (the hospital's code), `X-Timestamp` (unix seconds when signed, within 5 "
            "minutes) and `X-Message-Id` (unique per request, at most 128 characters; a retry is signed anew).",
        )
        self.scheme_name = "hospital-signature"

    async def __call__(self, request: Request) -> Signed:
        headers = request.headers
        return await signed_hospital(
            request,
            hospital_id=headers.get("x-hospital-id"),
            timestamp=headers.get("x-timestamp"),
            message_id=headers.get("x-message-id"),
            signature=headers.get("x-signature"),
        )


async def signed_hospital(
    request: Request, *, hospital_id: str | None, timestamp: str | None, message_id: str | None, signature: str | None
) -> Signed:
    """The hospital whose key signed this request, from the four headers' values. A read's message
    id is checked here; a write's by its command (`Signed.command_id`)."""
    keys: dict[str, list[str]] = request.app.state.settings.hospital_keys
    try:
        if not hospital_id:
            raise MissingSignatureError("X-Hospital-Id")
        verified = verify(
            method=request.method,
            path=request_target(request),
            body=await request.body(),
            timestamp=timestamp,
            message_id=message_id,
            signature=signature,
            keys=[key.encode() for key in keys.get(hospital_id, [])],
            now=datetime.now(UTC),
        )
    except SignatureError as error:
        raise refused(error.reason, str(error)) from error
    if len(verified.message_id) > MAX_MESSAGE_ID:
        raise refused("signature-invalid", f"the message id is longer than {MAX_MESSAGE_ID} characters")
    if request.method in SAFE_METHODS:
        guard: ReplayGuard = request.app.state.replay_guard
        if not await guard.first_use(hospital_id, verified.message_id):
            raise replayed()
    actor = Actor(kind=ActorKind.HOSPITAL, id=hospital_id)
    request.state.actor = actor  # for the audit record of this request
    return Signed(actor, verified.message_id)


SignedHospital = Annotated[Signed, Depends(HospitalSignature())]
