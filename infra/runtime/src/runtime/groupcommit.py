"""Group commit: concurrent transactions' closing statements sent together.

A decision that commits as one statement (`PostgresTransaction`: its append, reply, timers and
rides behind one guard) pays about 150-225 us of CPU for the statement itself, whatever it
carries: the round trip, the backend's wake-up, and the commit with its WAL flush. Under load many
such statements wait at once. Here, while one is on its way, those that come meanwhile wait, and
the next to go takes the waiting ones of the same statement along: asyncpg's `fetchmany` sends
each with its own arguments in one pipeline, one round trip, run in order in one implicit
transaction with one commit. Each runs as it would alone, seeing those before it: one whose guard
fails (its stream moved) writes nothing and is refused as it would be alone, and the others are
written. An error of any (a key two of them write, a deadlock) rolls the whole back, and each is
sent again alone, on its own connection, where it fails or succeeds as it would have. With
nothing on its way a statement goes at once: no wait at low load. A send held up in the server (a
row another transaction writes and has not committed) lets the next go after a while, holding up
only those it carries.

Two that would certainly break the whole do not go together: two writing one stream (the second
finds the first's key) and two storing one command's reply.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg


@dataclass(eq=False)
class Member:
    """One transaction's closing statement: `sql` with `arguments`, the streams it writes and the
    command whose reply it stores."""

    sql: str
    arguments: Sequence[Any]
    writes: frozenset[str]  # streams it appends to, or whose timers it cancels
    command: Any = None  # the command whose reply it stores
    together: int = 1  # statements sent in its pipeline, once sent
    future: asyncio.Future[Any] | None = field(default=None, repr=False)

    def meets(self, taken: _Taken) -> bool:
        return bool(self.writes & taken.writes or (self.command is not None and self.command in taken.commands))


@dataclass
class _Taken:
    writes: set[str] = field(default_factory=set)
    commands: set[Any] = field(default_factory=set)

    def add(self, member: Member) -> None:
        self.writes |= member.writes
        if member.command is not None:
            self.commands.add(member.command)


@dataclass(frozen=True)
class _Lead:
    """A waiting member's turn to send its statement, with the others riding with it. Not itself:
    the lead's future holds this as its result, and a lead among the riders made a reference cycle
    (member, future, lead, member) that kept every rider's arguments (events, lines, ids) alive
    until the cyclic garbage collector's next pass: the injury service's young collections under
    the settlements' load took 6-21 ms each, every 0.7 s, each a pause for every request in flight."""

    riders: list[Member]


_ALONE = object()  # the group failed as a whole: send your statement on your own


class _Slot:
    """A send's place among the group's `in_flight`, given back once: when the send comes back, or
    when it has been on its way for `patience` seconds. A send held up in the server (a row
    another transaction is writing and has not committed) then holds up only itself and those in
    its pipeline, as that row would have held up the transaction writing it alone."""

    def __init__(self, group: CommitGroup) -> None:
        self._group = group
        self._held = True
        self._timer = asyncio.get_running_loop().call_later(group.patience, self._overdue)

    def _overdue(self) -> None:
        if self._held:
            self._group.overdue += 1
            self.give_back()

    def give_back(self) -> None:
        if self._held:
            self._held = False
            self._timer.cancel()
            self._group._hand_over()


class CommitGroup:
    """Sends members' statements, together where several wait (see the module's doc).

    `in_flight`: how many sends (one statement or a group's pipeline) may be on their way at once;
    more wait and are taken along by the next. Two kept the cores busier than one (the settlements
    section, three pairs in turns: 682 / 587 / 690 -> 754 / 751 / 756 a second); four sent smaller
    groups, PostgreSQL's CPU a settlement up a tenth. `most`: statements in one pipeline.
    `patience`: seconds a send keeps its place before the next may go (`_Slot`)."""

    def __init__(self, *, in_flight: int = 2, most: int = 32, patience: float = 0.25) -> None:
        if in_flight < 1 or most < 1 or patience <= 0:
            raise ValueError("a group sends at least one statement at a time, each for a while")
        self.in_flight = in_flight
        self.most = most
        self.patience = patience
        self._sending = 0
        self._waiting: deque[Member] = deque()
        self.groups = 0  # pipelines of several statements sent
        self.grouped = 0  # statements sent in them
        self.overdue = 0  # sends that gave their place back before they came back

    @property
    def waiting(self) -> int:
        """Members waiting for the next statement."""
        return len(self._waiting)

    async def fetchrow(self, conn: asyncpg.Connection, member: Member) -> Any:
        """The member's row, its statement sent alone or with others, on `conn` or another's."""
        if self._sending < self.in_flight:
            self._sending += 1
            slot = _Slot(self)
            try:
                return await conn.fetchrow(member.sql, *member.arguments)
            finally:
                slot.give_back()
        member.future = asyncio.get_running_loop().create_future()
        self._waiting.append(member)
        try:
            turn = await member.future
        except asyncio.CancelledError:
            self._left(member)
            raise
        if isinstance(turn, _Lead):
            return await self._lead(conn, member, turn.riders)
        if turn is _ALONE:
            return await conn.fetchrow(member.sql, *member.arguments)
        return turn

    def _left(self, member: Member) -> None:
        """A waiting member cancelled: out of the queue, or, given the lead, the others sent alone."""
        future = member.future
        if future is None or not future.done() or future.cancelled():
            if member in self._waiting:
                self._waiting.remove(member)
            return
        turn = future.result()
        if isinstance(turn, _Lead):
            for other in turn.riders:
                _resolve(other, _ALONE)
            self._hand_over()

    async def _lead(self, conn: asyncpg.Connection, mine: Member, riders: list[Member]) -> Any:
        """Send the caller's statement and the riders' in one pipeline; their rows to each."""
        slot = _Slot(self)
        members = [mine, *(m for m in riders if m.future is not None and not m.future.done())]  # not the cancelled
        if len(members) == 1:
            try:
                return await conn.fetchrow(mine.sql, *mine.arguments)
            finally:
                slot.give_back()
        ordered = sorted(members, key=_order)  # two groups writing the same streams take them in one order
        try:
            rows = await conn.fetchmany(mine.sql, [m.arguments for m in ordered])
        except BaseException as error:
            for other in members[1:]:
                _resolve(other, _ALONE)
            slot.give_back()
            if not isinstance(error, Exception):  # cancelled: the others go on alone, this one stops
                raise
            return await conn.fetchrow(mine.sql, *mine.arguments)
        slot.give_back()
        if len(rows) != len(ordered):  # each statement answers one row: a statement that does not is a bug
            miscount = RuntimeError(f"{len(ordered)} statements sent together answered {len(rows)} rows")
            for other in members[1:]:
                _resolve(other, miscount)
            raise miscount
        self.groups += 1
        self.grouped += len(ordered)
        own = None
        for row, member in zip(rows, ordered, strict=True):
            member.together = len(ordered)
            if member is mine:
                own = row
            else:
                _resolve(member, row)
        return own

    def _hand_over(self) -> None:
        """A statement came back: the next waiting member leads the next group, or one fewer goes."""
        while self._waiting:
            first = self._waiting.popleft()
            if first.future is None or first.future.done():
                continue
            riders: list[Member] = []
            taken = _Taken()
            taken.add(first)
            kept: deque[Member] = deque()
            while self._waiting and 1 + len(riders) < self.most:
                other = self._waiting.popleft()
                if other.future is None or other.future.done():
                    continue
                if other.sql == first.sql and not other.meets(taken):
                    riders.append(other)
                    taken.add(other)
                else:
                    kept.append(other)
            kept.extend(self._waiting)
            self._waiting = kept
            first.future.set_result(_Lead(riders))
            return
        self._sending -= 1


def _resolve(member: Member, outcome: Any) -> None:
    """A waiting member's turn, row or error (raised in it), unless it has stopped waiting."""
    if member.future is None or member.future.done():
        return
    if isinstance(outcome, BaseException):
        member.future.set_exception(outcome)
    else:
        member.future.set_result(outcome)


def _order(member: Member) -> tuple[str, ...]:
    return tuple(sorted(member.writes))
