"""Request table of the wage-arrears service (command and query names -> handlers) and its error table."""

from __future__ import annotations

from collections.abc import Collection
from functools import partial
from typing import Any

import asyncpg

from arrears import queries
from arrears.application import cases, leads, reviews
from arrears.application.aggregates import Keeping
from arrears.domain import errors
from contracts.arrears import commands as c
from contracts.envelope import Envelope
from contracts.identifiers import pseudonym
from runtime.clock import Clock
from runtime.eventstore import EventStore
from runtime.messaging import RequestHandler
from runtime.requests import ErrorTable, command, query

# Most specific first: the first matching class gives the status and problem type.
ERRORS: ErrorTable = {
    errors.LeadNotFoundError: (404, "arrears-not-found"),
    errors.CaseNotFoundError: (404, "arrears-not-found"),
    errors.UnknownDistrictError: (422, "unknown-district"),
    errors.UnpaidWagesError: (422, "unpaid-wages"),
    errors.WrongStatusError: (409, "arrears-wrong-status"),
    errors.ArrearsError: (422, "arrears-rule"),
}


def request_table(
    store: EventStore, pool: asyncpg.Pool, clock: Clock, *, keep: Keeping, districts: Collection[str], salt: bytes
) -> dict[str, RequestHandler]:
    def cmd(model: Any, handler: Any, **deps: Any) -> RequestHandler:
        return command(store, clock, model, partial(handler, keep=keep, **deps), ERRORS)

    def ref(citizen_id: str) -> str:
        return pseudonym(citizen_id, salt=salt)

    async def get_lead(q: c.GetLead, _: Envelope[c.GetLead]) -> dict[str, Any]:
        found = await queries.get_lead(pool, q.lead_id)
        if found is None:
            raise errors.LeadNotFoundError
        return found

    async def get_case(q: c.GetCase, _: Envelope[c.GetCase]) -> dict[str, Any]:
        found = await queries.get_case(pool, q.case_id, None if q.citizen_id is None else ref(q.citizen_id))
        if found is None:
            raise errors.CaseNotFoundError
        return found

    async def my_arrears(q: c.MyArrears, _: Envelope[c.MyArrears]) -> dict[str, Any]:
        return await queries.my_arrears(pool, ref(q.citizen_id))

    async def district_list(q: c.ListDistrictCases, _: Envelope[c.ListDistrictCases]) -> dict[str, Any]:
        return await queries.district_list(pool, q.district, open_only=q.open_only, limit=q.limit)

    async def supervised(q: c.ListSupervised, _: Envelope[c.ListSupervised]) -> list[Any]:
        level = None if q.level is None else q.level.value
        return await queries.supervised(pool, q.supervisor, level, q.limit)

    async def figures(q: c.ArrearsFigures, _: Envelope[c.ArrearsFigures]) -> dict[str, Any]:
        return await queries.figures(pool, q.first, q.last)

    return {
        "receive_complaint": cmd(c.ReceiveComplaint, leads.receive_complaint, districts=districts, salt=salt),
        "route_lead": cmd(c.RouteLead, leads.route_lead, districts=districts),
        "accept_complaint": cmd(c.AcceptComplaint, leads.accept_complaint),
        "refuse_complaint": cmd(c.RefuseComplaint, leads.refuse_complaint),
        "extend_investigation": cmd(c.ExtendInvestigation, cases.extend_investigation),
        "order_payment": cmd(c.OrderPayment, cases.order_payment),
        "record_wages_paid": cmd(c.RecordWagesPaid, cases.record_wages_paid),
        "record_general_contractor_payment": cmd(
            c.RecordGeneralContractorPayment, cases.record_general_contractor_payment
        ),
        "impose_penalty": cmd(c.ImposePenalty, cases.impose_penalty),
        "order_additional_compensation": cmd(c.OrderAdditionalCompensation, cases.order_additional_compensation),
        "transfer_case": cmd(c.TransferCase, cases.transfer_case),
        "withdraw_case": cmd(c.WithdrawCase, cases.withdraw_case),
        "close_case": cmd(c.CloseCase, cases.close_case),
        "dispute_case": cmd(c.DisputeCase, reviews.dispute_case),
        "record_review": cmd(c.RecordReview, reviews.record_review),
        "get_lead": query(c.GetLead, get_lead, ERRORS),
        "get_case": query(c.GetCase, get_case, ERRORS),
        "my_arrears": query(c.MyArrears, my_arrears, ERRORS),
        "list_district_cases": query(c.ListDistrictCases, district_list, ERRORS),
        "list_supervised": query(c.ListSupervised, supervised, ERRORS),
        "arrears_figures": query(c.ArrearsFigures, figures, ERRORS),
    }
