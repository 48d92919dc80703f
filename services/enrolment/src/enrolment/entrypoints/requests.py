"""Request table of the enrolment service: command and query names -> handlers, and its error table."""

from __future__ import annotations

from functools import partial
from typing import Any

import asyncpg

from contracts.enrolment.commands import GetEmployer, RegisterEmployer
from contracts.envelope import Envelope
from enrolment import projections
from enrolment.application import handlers
from enrolment.domain import errors
from runtime.clock import Clock
from runtime.eventstore import EventStore
from runtime.messaging import RequestHandler
from runtime.requests import ErrorTable, command, query

ERRORS: ErrorTable = {
    errors.EmployerAlreadyRegisteredError: (409, "employer-already-registered"),
    errors.EmployerNotFoundError: (404, "employer-not-found"),
    errors.EstablishedInFutureError: (422, "established-in-future"),
}


def request_table(
    store: EventStore, pool: asyncpg.Pool, clock: Clock, recorder: handlers.Recorder
) -> dict[str, RequestHandler]:
    async def get_employer(q: GetEmployer, _: Envelope[GetEmployer]) -> dict[str, Any]:
        found = await projections.get_employer(pool, q.credit_code)
        if found is None:
            raise errors.EmployerNotFoundError(q.credit_code)
        return found

    return {
        "register_employer": command(
            store, clock, RegisterEmployer, partial(handlers.register_employer, recorder=recorder), ERRORS
        ),
        "get_employer": query(GetEmployer, get_employer, ERRORS),
    }
