"""Recording a decision: private events into the store, public events into the outbox.

Every event row carries its metadata (correlation, causation, actor, channel, trace context), and
every public event leaves wrapped in the contracts' envelope, addressed by `contracts.subjects`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel

from contracts.codec import encode
from contracts.envelope import SYSTEM_ACTOR, Actor, Channel, envelope_for
from contracts.subjects import Subjects
from runtime.commands import presume_new, started
from runtime.eventstore import NewEvent, OutboxMessage, StreamAppend, StreamEvent, Transaction
from runtime.serialization import from_json
from runtime.workdays import local_date

E = TypeVar("E")


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandContext:
    """Who asked, through which channel, when, and in which conversation."""

    command_id: UUID
    correlation_id: UUID
    causation_id: UUID | None
    actor: Actor
    channel: Channel
    region: str
    now: datetime
    traceparent: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of_system(
        cls, region: str, now: datetime, *, command_id: UUID | None = None, traceparent: str | None = None
    ) -> CommandContext:
        """The system's own work (a deadline firing, a policy, a payment answering a waiting
        letter): its id (a fresh one unless given) is also its correlation; no causation."""
        command_id = command_id or uuid4()
        return cls(
            command_id=command_id,
            correlation_id=command_id,
            causation_id=None,
            actor=SYSTEM_ACTOR,
            channel=Channel.SYSTEM,
            region=region,
            now=now,
            traceparent=traceparent,
        )

    @property
    def today(self) -> date:
        """The agency's date (Beijing) at `now`: day-based rules use it, never the UTC date."""
        return local_date(self.now)

    def metadata(self) -> dict[str, Any]:
        return {
            "command_id": str(self.command_id),
            "correlation_id": str(self.correlation_id),
            "causation_id": str(self.causation_id) if self.causation_id else None,
            "actor": self.actor.model_dump(mode="json", exclude_none=True),
            "channel": self.channel.value,
            "region": self.region,
            "traceparent": self.traceparent,
            **self.extra,
        }


@dataclass(frozen=True, slots=True)
class Published:
    """A public event to send: its contract message name, version, model and target region; its
    envelope's `subject` when that is not the event's stream (a payroll's month: the employer).

    A model with a line per person (a `merge_key` and a `merged` class method) is joined with the
    other messages of the same decision that have the same name, version, target and key: one
    message with all their lines, sent where the first would have been."""

    message: str
    data: BaseModel
    version: int = 1
    region: str | None = None
    inbox: bool = False
    subject: str | None = None


@dataclass(slots=True)
class _Sending:
    """A public event on its way to the outbox: the stream and event it came from."""

    stream_id: str
    event_id: UUID
    index: int
    public: Published
    append: int = 0  # which of a decision's appends carries it
    decision: int = 0  # which of the decisions recorded together took it (`record_together`)


def _joined(sending: list[_Sending]) -> list[_Sending]:
    """The messages of one decision, those with lines joined per (name, version, target, key)."""
    kept: list[_Sending] = []
    joining: dict[tuple[Any, ...], tuple[int, list[BaseModel]]] = {}
    for each in sending:
        public = each.public
        merge_key = getattr(public.data, "merge_key", None)
        if merge_key is None:
            kept.append(each)
            continue
        key = (public.message, public.version, public.region, public.inbox, public.subject, merge_key())
        if key in joining:
            joining[key][1].append(public.data)
            continue
        joining[key] = len(kept), [public.data]
        kept.append(each)
    for position, parts in joining.values():
        if len(parts) > 1:
            first = kept[position]
            merged = type(parts[0]).merged(parts)  # type: ignore[attr-defined]
            kept[position] = replace(first, public=replace(first.public, data=merged))
    return kept


class Recorder(Protocol):
    """What a use case needs of `EventRecorder`: a stream's events and version, and recording more."""

    async def load(self, tx: Transaction, stream_id: str, *, presumed_new: bool = False) -> tuple[list[Any], int]: ...

    async def load_many(
        self, tx: Transaction, stream_ids: Sequence[str], *, after: Mapping[str, int] | None = None
    ) -> dict[str, tuple[list[Any], int]]: ...

    async def preload(self, tx: Transaction, stream_ids: Iterable[str]) -> None: ...

    async def record(
        self,
        tx: Transaction,
        stream_id: str,
        version: int,
        events: list[Any],
        ctx: CommandContext,
        messages: Sequence[OutboxMessage] = (),
    ) -> int: ...

    async def record_together(
        self,
        tx: Transaction,
        stream_id: str,
        version: int,
        decisions: Sequence[tuple[Sequence[Any], CommandContext]],
        messages: Sequence[OutboxMessage] = (),
    ) -> int: ...

    async def record_many(
        self, tx: Transaction, appends: Sequence[tuple[str, int, Sequence[Any]]], ctx: CommandContext
    ) -> None: ...


class EventRecorder(Generic[E]):
    """Loads and appends one service's private events, translating each to its public form."""

    def __init__(
        self,
        service: str,
        subjects: Subjects,
        event_types: Sequence[type[Any]],
        translate: Callable[[E, str], Sequence[Published]],
    ) -> None:
        self.service = service
        self.subjects = subjects
        self.types = {t.__name__: t for t in event_types}
        self.translate = translate

    async def load(self, tx: Transaction, stream_id: str, *, presumed_new: bool = False) -> tuple[list[E], int]:
        """The stream's events and version. `presumed_new`: a stream the decision expects to start,
        taken as empty without a read on the command's first attempt (see `runtime.commands`).

        A stream already read or recorded in this transaction is not read again: the next decision
        on it (a transfer's funds after its sheet, sent together and taken in one batch) starts from
        what the one before read and appended, instead of reading and decoding it all once more."""
        known: dict[str, tuple[E, ...]] = tx.memo.setdefault(self, {})  # a whole stream: its version is its length
        if stream_id in known:
            return list(known[stream_id]), len(known[stream_id])
        if presumed_new and presume_new(stream_id):
            events: list[E] = []
        else:
            events, _ = self._decoded(await tx.load(stream_id))
        known[stream_id] = tuple(events)
        return events, len(events)

    async def load_many(
        self, tx: Transaction, stream_ids: Sequence[str], *, after: Mapping[str, int] | None = None
    ) -> dict[str, tuple[list[E], int]]:
        """Several streams' events and versions in one round trip (a decision that reads three); a
        stream in `after`, only its events after that version (and its version counts them too)."""
        after = after or {}
        loaded = await tx.load_many(stream_ids, after=after)
        return {stream_id: self._decoded(rows, after.get(stream_id, 0)) for stream_id, rows in loaded.items()}

    async def preload(self, tx: Transaction, stream_ids: Iterable[str]) -> None:
        """Read ahead, in one round trip, streams that decisions later in this transaction will
        `load` (a batch of letters, each on its own case): they then find them known, as a stream
        read before. Streams this transaction already knows are not read again."""
        known: dict[str, tuple[E, ...]] = tx.memo.setdefault(self, {})
        wanted = [stream_id for stream_id in dict.fromkeys(stream_ids) if stream_id not in known]
        if not wanted:
            return
        for stream_id, rows in (await tx.load_many(wanted)).items():
            known[stream_id] = tuple(self._decoded(rows)[0])

    def _decoded(self, rows: Sequence[StreamEvent], before: int = 0) -> tuple[list[E], int]:
        return [from_json(self.types[r.event_type], r.data) for r in rows], before + len(rows)

    async def record(
        self,
        tx: Transaction,
        stream_id: str,
        version: int,
        events: Sequence[E],
        ctx: CommandContext,
        messages: Sequence[OutboxMessage] = (),
    ) -> int:
        """Append the events with their public messages, and `messages` besides (e.g. a letter to
        another region), in one statement."""
        return await self.record_together(tx, stream_id, version, [(events, ctx)], messages)

    async def record_together(
        self,
        tx: Transaction,
        stream_id: str,
        version: int,
        decisions: Sequence[tuple[Sequence[E], CommandContext]],
        messages: Sequence[OutboxMessage] = (),
    ) -> int:
        """Several decisions taken one after the other on one stream in this transaction (each on
        the state the one before left: a case's sheet and funds arriving in one fetch), as one
        append: each event with its own decision's metadata, their public messages joined as one
        decision's are (a message with lines: one for all of them, in the envelope of the decision
        that sent its first line)."""
        stored: list[NewEvent] = []
        sending: list[_Sending] = []
        for decision, (events, ctx) in enumerate(decisions):
            each_stored, each_sending = self._stored(stream_id, events, ctx.metadata(), decision=decision)
            stored += each_stored
            sending += each_sending
        if version == 0 and stored:
            started(stream_id)
        published = [self._outbox_message(each, decisions[each.decision][1]) for each in _joined(sending)]
        appended = await tx.append(stream_id, version, stored, [*published, *messages])
        self._known_after(tx, stream_id, version, [event for events, _ in decisions for event in events])
        return appended

    async def record_many(
        self, tx: Transaction, appends: Sequence[tuple[str, int, Sequence[E]]], ctx: CommandContext
    ) -> None:
        """Events for several streams (stream id, version, events), all or none, in one statement;
        their messages with lines joined across the streams (a chunk's month: one message)."""
        batch: list[tuple[str, int, list[NewEvent]]] = []
        sending: list[_Sending] = []
        metadata = ctx.metadata()  # the same for every stream of the decision (a chunk's hundred people)
        for stream_id, version, events in appends:
            if events:
                stored, published = self._stored(stream_id, events, metadata, append=len(batch))
                batch.append((stream_id, version, stored))
                sending += published
                if version == 0:
                    started(stream_id)
        messages: list[list[OutboxMessage]] = [[] for _ in batch]
        for each in _joined(sending):
            messages[each.append].append(self._outbox_message(each, ctx))
        await tx.append_many(
            [
                StreamAppend(stream_id, version, stored, sent)
                for (stream_id, version, stored), sent in zip(batch, messages, strict=True)
            ]
        )
        for stream_id, version, events in appends:
            self._known_after(tx, stream_id, version, events)

    def _known_after(self, tx: Transaction, stream_id: str, version: int, events: Sequence[E]) -> None:
        """What this transaction knows of a stream it appended to: its events with these on, if it
        read the stream at the version appended at; else nothing (it is read again if asked)."""
        known: dict[str, tuple[E, ...]] | None = tx.memo.get(self)
        if not known or stream_id not in known or not events:
            return
        if len(known[stream_id]) == version:
            known[stream_id] = (*known[stream_id], *events)
        else:
            del known[stream_id]

    def _stored(
        self, stream_id: str, events: Sequence[E], metadata: dict[str, Any], *, append: int = 0, decision: int = 0
    ) -> tuple[list[NewEvent], list[_Sending]]:
        stored: list[NewEvent] = []
        sending: list[_Sending] = []
        for event in events:
            event_id = uuid4()
            stored.append(NewEvent(event_id, type(event).__name__, event, metadata))
            for index, public in enumerate(self.translate(event, stream_id)):
                sending.append(_Sending(stream_id, event_id, index, public, append, decision))
        return stored, sending

    def _outbox_message(self, sending: _Sending, ctx: CommandContext) -> OutboxMessage:
        public = sending.public
        return self.outbox_message(public, ctx, public.subject or sending.stream_id, sending.event_id, sending.index)

    def outbox_message(
        self, public: Published, ctx: CommandContext, stream_id: str, event_id: UUID, index: int = 0
    ) -> OutboxMessage:
        message_id = event_id if index == 0 else uuid4()
        region = public.region or ctx.region
        envelope = envelope_for(
            public.data,
            service=self.service,
            message=public.message,
            version=public.version,
            region=ctx.region,
            actor=ctx.actor,
            channel=ctx.channel,
            time=ctx.now,
            correlationid=ctx.correlation_id,
            causationid=ctx.command_id,
            subject=stream_id,
            id=message_id,
        )
        headers = {"traceparent": ctx.traceparent} if ctx.traceparent else {}
        address = self.subjects.inbox if public.inbox else self.subjects.event
        subject = address(region, self.service, public.message, public.version)
        return OutboxMessage(message_id, subject, encode(envelope), headers)


S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class Folded(Generic[S]):
    """A stream's state, folded from its events up to `version`."""

    state: S
    version: int


class FoldedStreams(Generic[S]):
    """Streams' states kept in this process, each at the version it was folded to: a decision
    reads only the events appended since (by any replica) and folds them on, instead of reading
    and folding the whole stream again. A person's stream gains a few events a month for decades;
    a payroll's month reads and decides a chunk of them at once.

    A state is kept once the transaction that read it or appended to it has committed, never
    before (`Transaction.after_commit`): a kept version is always one the log holds, and a newer
    one is never replaced by an older. At most `capacity` streams are kept, the least recently
    used dropped first; 0 keeps none. States are shared, so they must be immutable (frozen
    dataclasses whose collections are replaced, never changed). `fold_on(state, events)` is the
    state with the events folded on, in one pass where an event at a time would copy an index each
    time (a catalogue of thousands of items)."""

    def __init__(
        self, recorder: Recorder, start: S, fold_on: Callable[[S, Sequence[Any]], S], *, capacity: int
    ) -> None:
        self.recorder = recorder
        self.start = start
        self.fold_on = fold_on
        self.capacity = capacity
        self._kept: OrderedDict[str, Folded[S]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._kept)

    def kept(self, stream_id: str) -> Folded[S] | None:
        """The state kept for `stream_id`, if any: a decision taking it without a read asks the
        transaction to check it is still at its version (`Transaction.expect_unchanged`)."""
        return self._kept.get(stream_id)

    async def load_many(
        self, tx: Transaction, stream_ids: Sequence[str], *, whole: Sequence[str] = ()
    ) -> tuple[dict[str, Folded[S]], dict[str, tuple[list[Any], int]]]:
        """The streams' states, and the events and versions of the `whole` streams (of other kinds,
        read in full), in one round trip."""
        kept = {stream_id: self._kept[stream_id] for stream_id in stream_ids if stream_id in self._kept}
        loaded = await self.recorder.load_many(
            tx, [*stream_ids, *whole], after={stream_id: k.version for stream_id, k in kept.items()}
        )
        folded: dict[str, Folded[S]] = {}
        for stream_id in stream_ids:
            events, version = loaded[stream_id]
            known = kept.get(stream_id)
            folded[stream_id] = self._on(known.state if known else self.start, events, version)
        self.keep_once_committed(tx, folded)
        return folded, {stream_id: loaded[stream_id] for stream_id in whole}

    async def load(self, tx: Transaction, stream_id: str) -> Folded[S]:
        folded, _ = await self.load_many(tx, [stream_id])
        return folded[stream_id]

    async def record(
        self, tx: Transaction, stream_id: str, folded: Folded[S], events: Sequence[Any], ctx: CommandContext
    ) -> None:
        """`EventRecorder.record` for a stream loaded here: at its folded version, and kept with its
        new events folded on once the transaction commits."""
        await self.recorder.record(tx, stream_id, folded.version, list(events), ctx)
        if events:
            self.keep_once_committed(tx, {stream_id: self._on(folded.state, events, folded.version + len(events))})

    async def record_many(
        self,
        tx: Transaction,
        appends: Sequence[tuple[str, Folded[S], Sequence[Any]]],
        ctx: CommandContext,
        *,
        states: Mapping[str, S] | None = None,
    ) -> None:
        """`EventRecorder.record_many` for streams loaded here: each at its folded version, and kept
        with its new events folded on once the transaction commits. `states`: each appended
        stream's state with its new events on, where the decision folded them already (a chunk's
        people, each decided on what the one before left): kept as they are, not folded again."""
        await self.recorder.record_many(tx, [(stream_id, f.version, events) for stream_id, f, events in appends], ctx)
        self.keep_once_committed(
            tx,
            {
                stream_id: Folded(states[stream_id], f.version + len(events))
                if states is not None
                else self._on(f.state, events, f.version + len(events))
                for stream_id, f, events in appends
                if events
            },
        )

    def _on(self, state: S, events: Sequence[Any], version: int) -> Folded[S]:
        return Folded(self.fold_on(state, events) if events else state, version)

    def keep_once_committed(self, tx: Transaction, folded: Mapping[str, Folded[S]]) -> None:
        """Keep these states once `tx` has committed (streams read or written by it)."""
        if self.capacity > 0 and folded:
            tx.after_commit(lambda: self._keep(folded))

    def _keep(self, folded: Mapping[str, Folded[S]]) -> None:
        kept = self._kept
        for stream_id, each in folded.items():
            known = kept.get(stream_id)
            if known is None or known.version <= each.version:
                kept[stream_id] = each
            kept.move_to_end(stream_id)
        while len(kept) > self.capacity:
            kept.popitem(last=False)
