"""Request handlers from typed functions: decode the envelope, run once, reply or refuse.

A malformed request is answered with a 400 problem naming each field; a broken rule with the
status the service's error table gives it; nothing is stored for either.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar
from uuid import uuid4

import orjson
from nats.aio.client import Client as NatsClient
from opentelemetry.trace import Link
from pydantic import BaseModel, ValidationError

from contracts.codec import decode, encode, invalid, reply_bytes
from contracts.envelope import SYSTEM_ACTOR, Channel, Envelope, envelope_for
from contracts.replies import Problem, Reply, ok, problem, refused
from contracts.subjects import Subjects
from runtime.clock import Clock
from runtime.commands import run_once
from runtime.eventstore import EventStore, Transaction
from runtime.messaging import Request, RequestHandler, request
from runtime.recording import CommandContext
from runtime.tracing import current_traceparent

C = TypeVar("C", bound=BaseModel)

ErrorTable = Mapping[type[Exception], tuple[int, str]]

FINGERPRINT = "fingerprint"  # kept beside the stored reply: which request the command id came from
KEY_REUSED = problem(
    "idempotency-key-reused",
    "Idempotency-Key already used for another request",
    422,
    "this Idempotency-Key was first used with a different request; use a new key for a new request",
)


def refusal(error: Exception, errors: ErrorTable) -> Problem | None:
    """The problem for a rule the service knows (status, code); None if it is not a rule."""
    for kind, (status, code) in errors.items():
        if isinstance(error, kind):
            return problem(code, code.replace("-", " ").capitalize(), status, str(error))
    return None


def context_of(envelope: Envelope[Any], clock: Clock) -> CommandContext:
    return CommandContext(
        command_id=envelope.id,
        correlation_id=envelope.correlationid,
        causation_id=envelope.causationid,
        actor=envelope.actor,
        channel=envelope.channel,
        region=envelope.region,
        now=clock.now(),
        traceparent=current_traceparent(),
    )


Ask = Callable[[C, CommandContext], Awaitable[Mapping[str, Any]]]


def command(
    store: EventStore,
    clock: Clock,
    model: type[C],
    run: Callable[..., Awaitable[dict[str, Any]]],
    errors: ErrorTable,
    *,
    ask: Ask[C] | None = None,
) -> RequestHandler:
    """A request handler that runs `run(tx, command, ctx)` exactly once per command id.

    `ask`: what the decision needs from another service (a question to another region), asked
    before its transaction opens and passed to `run` as keyword arguments. No database connection
    is held while the answer is awaited: two busy regions asking each other with their connections
    held would each hold all of them, and wait for the other's until the question timed out. A
    refusal it raises (the other region unreachable) is answered and not stored: nothing was
    decided, and a retry asks again (a retried command already decided asks too, then finds its
    stored outcome)."""

    async def handle(request: Request) -> bytes:
        try:
            envelope = decode(request.data, model)
        except ValidationError as error:
            return reply_bytes(refused(invalid(error)))
        ctx = context_of(envelope, clock)
        answers: Mapping[str, Any] = {}
        if ask is not None:
            try:
                answers = await ask(envelope.data, ctx)
            except Exception as error:
                known = refusal(error, errors)
                if known is None:
                    raise
                return reply_bytes(refused(known))

        async def decide(tx: Transaction) -> dict[str, Any]:
            try:
                reply = ok(await run(tx, envelope.data, ctx, **answers)).model_dump(mode="json", exclude_none=True)
            except Exception as error:
                known = refusal(error, errors)
                if known is None:
                    raise
                reply = refused(known).model_dump(mode="json", exclude_none=True)
            return {**reply, FINGERPRINT: envelope.fingerprint}

        outcome = await run_once(store, envelope.id, decide)
        return _answered(outcome.reply, envelope, replayed=outcome.stored_before)

    return handle


def _answered(stored: Mapping[str, Any], envelope: Envelope[Any], *, replayed: bool) -> bytes:
    """A command's stored reply, as the answer to this request: refused if the command id (the
    caller's Idempotency-Key) first came with another request; marked `replayed` if it was stored
    before this request came (the gateway refuses a signed request's second use)."""
    reply = dict(stored)
    if reply.pop(FINGERPRINT, None) != envelope.fingerprint:
        return reply_bytes(refused(KEY_REUSED))
    if replayed:
        reply["replayed"] = True
    # Kept as a Reply's JSON form (a model dumped, by `command` and `command_across`): sent as it is,
    # not validated into the model and dumped again.
    return orjson.dumps(reply)


def command_across(
    store: EventStore,
    clock: Clock,
    model: type[C],
    run: Callable[[EventStore, C, CommandContext], Awaitable[dict[str, Any]]],
    errors: ErrorTable,
) -> RequestHandler:
    """A command that touches many aggregates, each in its own transaction.

    `run` makes every step idempotent itself (e.g. `execute_once` with ids derived from the
    command id), so a retried command redoes nothing that was done. Its reply is stored once it
    has run to the end: a retry then gets that reply, whatever changed since (someone joined a
    payroll a batch covers), and the same command id with another request is refused, as for
    `command`. A refusal is not stored; a retry of it, or of a command stopped midway, runs again
    and finds the steps that were done."""

    async def handle(request: Request) -> bytes:
        try:
            envelope = decode(request.data, model)
        except ValidationError as error:
            return reply_bytes(refused(invalid(error)))
        async with store.transaction() as tx:
            earlier = await tx.reply_for(envelope.id)
        if earlier is not None:
            return _answered(earlier, envelope, replayed=True)
        try:
            result = await run(store, envelope.data, context_of(envelope, clock))
        except Exception as error:
            known = refusal(error, errors)
            if known is None:
                raise
            return reply_bytes(refused(known))
        reply = {**ok(result).model_dump(mode="json", exclude_none=True), FINGERPRINT: envelope.fingerprint}

        async def keep(_: Transaction) -> dict[str, Any]:
            return reply

        outcome = await run_once(store, envelope.id, keep)  # or the one a retry kept first
        return _answered(outcome.reply, envelope, replayed=outcome.stored_before)

    return handle


def query(
    model: type[C],
    run: Callable[[C, Envelope[C]], Awaitable[dict[str, Any] | list[Any]]],
    errors: ErrorTable,
) -> RequestHandler:
    """A request handler for a read: no transaction, no stored reply."""

    async def handle(request: Request) -> bytes:
        try:
            envelope = decode(request.data, model)
        except ValidationError as error:
            return reply_bytes(refused(invalid(error)))
        try:
            return reply_bytes(ok(await run(envelope.data, envelope)))
        except Exception as error:
            known = refusal(error, errors)
            if known is None:
                raise
            return reply_bytes(refused(known))

    return handle


async def ask_service(
    nc: NatsClient,
    subjects: Subjects,
    clock: Clock,
    *,
    region: str,
    service: str,
    name: str,
    data: BaseModel,
    timeout: float,  # noqa: ASYNC109 - passed to nats-py, which enforces it
    links: Sequence[Link] = (),
) -> Reply:
    """A query of one service to another (`name` of `service` in `region`), asked by the system: its
    reply, read. Raises what `request` raises (no responder, no answer in time) and a ValidationError
    for a reply that is not one."""
    envelope = envelope_for(
        data,
        service=service,
        message=name,
        region=region,
        actor=SYSTEM_ACTOR,
        channel=Channel.SYSTEM,
        time=clock.now(),
        correlationid=uuid4(),
    )
    raw = await request(nc, subjects.query(region, service, name), encode(envelope), timeout=timeout, links=links)
    return Reply.model_validate_json(raw)
