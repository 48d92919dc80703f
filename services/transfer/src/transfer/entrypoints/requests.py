"""Request table of the transfer service and its error table."""

from __future__ import annotations

from functools import partial
from typing import Any

import asyncpg

from contracts.envelope import Envelope
from contracts.identifiers import pseudonym
from contracts.transfer import commands as c
from runtime.clock import Clock
from runtime.eventstore import EventStore, PostgresTransaction, Transaction
from runtime.messaging import RequestHandler
from runtime.recording import CommandContext
from runtime.requests import ErrorTable, command, query
from transfer import queries
from transfer.application import cases
from transfer.domain import errors
from transfer.history import EnrolmentRecord, HistoryFeed, PostgresHistory

ERRORS: ErrorTable = {
    errors.HistoryCopyBehindError: (503, "history-copy-behind"),
    errors.CaseNotFoundError: (404, "transfer-not-found"),
    errors.TransferError: (422, "transfer-rule"),
}


def request_table(
    store: EventStore,
    pool: asyncpg.Pool,
    clock: Clock,
    *,
    recorder: Any,
    deadlines: Any,
    salt: bytes,
    feed: HistoryFeed | None = None,
    record: EnrolmentRecord | None = None,
) -> dict[str, RequestHandler]:
    async def standing(cmd: c.ApplyForTransfer, ctx: CommandContext) -> dict[str, Any]:
        """Read before the application's transaction, each read in a short one of its own."""
        person_ref = pseudonym(cmd.citizen_id, salt=salt)

        async def read() -> cases.Standing:
            async with store.transaction() as tx:
                if not isinstance(tx, PostgresTransaction):
                    raise TypeError("transfers are stored in PostgreSQL")
                return await PostgresHistory(tx).standing(person_ref)

        async def caught_up() -> bool:
            return feed is not None and await feed.applied_up_to_now()

        on_record = None if record is None else partial(record.contributing, person_ref)
        return {"standing": await cases.standing_here(read, caught_up, on_record), "person_ref": person_ref}

    async def apply(
        tx: Transaction, cmd: c.ApplyForTransfer, ctx: CommandContext, *, standing: cases.Standing, person_ref: str
    ) -> dict[str, Any]:
        return await cases.apply_for_transfer(
            tx, cmd, ctx, recorder=recorder, standing=standing, deadlines=deadlines, person_ref=person_ref
        )

    async def get_transfer(q: c.GetTransfer, _: Envelope[c.GetTransfer]) -> dict[str, Any]:
        found = await queries.get_transfer(pool, q.case_id, clock.now())
        if found is None:
            raise errors.CaseNotFoundError
        return found

    async def list_transfers(q: c.ListTransfers, _: Envelope[c.ListTransfers]) -> list[Any]:
        return await queries.list_transfers(pool, clock.now(), at_risk_only=q.at_risk_only, limit=q.limit)

    async def figures(q: c.TransferFigures, _: Envelope[c.TransferFigures]) -> dict[str, Any]:
        return await queries.figures(pool, q.first, q.last)

    return {
        "apply_for_transfer": command(store, clock, c.ApplyForTransfer, apply, ERRORS, ask=standing),
        "get_transfer": query(c.GetTransfer, get_transfer, ERRORS),
        "list_transfers": query(c.ListTransfers, list_transfers, ERRORS),
        "transfer_figures": query(c.TransferFigures, figures, ERRORS),
    }
