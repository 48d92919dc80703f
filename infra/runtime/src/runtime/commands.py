"""Running a command exactly once: the first reply is stored with the effects and returned on retries.

The reply is stored in the decision's own transaction, and nothing asks for it beforehand: one
round trip fewer on every command. A retried id decides again, finds its id taken when it stores
the reply, rolls back everything it did, and answers with the stored reply; so does a retry whose
second decision fails (the other region unreachable, say). A concurrency conflict (someone
appended to the same stream meanwhile) reruns the decision on fresh state a few times before it
is reported.

A decision that starts a stream (an employer's registration, say) may take it as new without
reading it, on the command's first attempt (`presume_new`): the append at version 0 then conflicts
if the stream exists after all, and the decision runs again on what a read finds. A presumption the
decision does not confirm by appending to that stream at version 0 (it refused, say) is not
trusted either: the attempt is rolled back, nothing sent, and the decision runs again reading the
stream. One round trip fewer for the usual case, a few more for the rare other one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from runtime.eventstore import ConcurrencyError, EventStore, Transaction

Reply = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Outcome:
    """A command's reply, and whether its id had one already (this is that one: a retry, a replay)."""

    reply: Reply
    stored_before: bool


async def execute_once(
    store: EventStore,
    command_id: UUID,
    decide: Callable[[Transaction], Awaitable[Reply]],
    *,
    attempts: int = 5,
) -> Reply:
    """Run `decide` in a transaction keyed by `command_id`; a retried id gets the stored reply."""
    return (await run_once(store, command_id, decide, attempts=attempts)).reply


async def run_once(
    store: EventStore,
    command_id: UUID,
    decide: Callable[[Transaction], Awaitable[Reply]],
    *,
    attempts: int = 5,
) -> Outcome:
    """`execute_once`, saying whether the reply was stored before: a caller whose ids are single
    use (a signed request's message id) refuses the second use instead of answering it."""
    for attempt in range(1, attempts + 1):
        try:
            async with store.transaction() as tx:
                reply = await _decided(decide, tx, presuming=attempt == 1)
                await tx.record_reply(command_id, reply)  # ConcurrencyError if the id already has one
                return Outcome(reply, stored_before=False)
        except Exception as error:
            stored = await _stored_reply(store, command_id, error)
            if stored is not None:
                return Outcome(stored, stored_before=True)
            if not isinstance(error, ConcurrencyError) or attempt == attempts:
                raise
    raise AssertionError("unreachable")


async def _stored_reply(store: EventStore, command_id: UUID, error: Exception) -> Reply | None:
    """The reply a first attempt stored, if any; when even that cannot be read, the original error."""
    try:
        async with store.transaction() as tx:
            stored: Reply | None = await tx.reply_for(command_id)
    except Exception:  # noqa: BLE001 - the lookup is a courtesy; what failed first is what to report
        raise error from None
    return stored


class PresumptionNotConfirmedError(ConcurrencyError):
    """A stream taken as new was not started by the decision: decide again, reading it."""

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id, 0)
        self.args = (
            f"stream {stream_id!r} was taken as new and the decision did not start it: decided again on a read",
        )


@dataclass
class _Presumptions:
    allowed: bool
    unconfirmed: set[str] = field(default_factory=set)


_presumptions: ContextVar[_Presumptions | None] = ContextVar("presumptions", default=None)


def presume_new(stream_id: str) -> bool:
    """Whether the decision running may take `stream_id` as new without reading it: only on its
    command's first attempt, and then the decision must start it (append at version 0)."""
    presumptions = _presumptions.get()
    if presumptions is None or not presumptions.allowed:
        return False
    presumptions.unconfirmed.add(stream_id)
    return True


def started(stream_id: str) -> None:
    """The decision appended the first events of `stream_id`: a presumption that it was new holds
    unless the append conflicts."""
    presumptions = _presumptions.get()
    if presumptions is not None:
        presumptions.unconfirmed.discard(stream_id)


async def _decided(decide: Callable[[Transaction], Awaitable[Reply]], tx: Transaction, *, presuming: bool) -> Reply:
    presumptions = _Presumptions(allowed=presuming)
    token = _presumptions.set(presumptions)
    try:
        reply = await decide(tx)
    finally:
        _presumptions.reset(token)
    if presumptions.unconfirmed:
        raise PresumptionNotConfirmedError(min(presumptions.unconfirmed))
    return reply
