"""Request table of the injury service (command and query names -> handlers) and its error table."""

from __future__ import annotations

from functools import partial
from typing import Any

import asyncpg

from contracts.envelope import Envelope
from contracts.injury import commands as c
from injury import queries
from injury.application import agreements, catalogues, determinations, reconciliations, settlements
from injury.application.ports import Catalogues, Deadlines, People, Reconciliations, Recorder, SettlementIndex
from injury.domain import errors
from injury.domain.determination import determination_stream
from runtime.clock import Clock
from runtime.eventstore import PostgresEventStore
from runtime.messaging import RequestHandler
from runtime.requests import ErrorTable, command, query
from runtime.workdays import local_date

ERRORS: ErrorTable = {
    errors.SettlementConflictError: (409, "settlement-conflict"),
    errors.SettlementNotFoundError: (404, "settlement-not-found"),
    errors.SettlementRejectedError: (422, "lines-rejected"),
    errors.TotalMismatchError: (422, "total-mismatch"),
    errors.EmptySettlementError: (422, "empty-settlement"),
    errors.AgreementNotFoundError: (404, "agreement-not-found"),
    errors.AgreementNotActiveError: (422, "agreement-not-active"),
    errors.AgreementOverlapError: (409, "agreement-overlap"),
    errors.DeterminationNotFoundError: (404, "determination-not-found"),
    errors.DeterminationMismatchError: (422, "determination-mismatch"),
    errors.DeterminationStageError: (409, "determination-stage"),
    errors.NotHeldError: (409, "settlement-not-held"),
    errors.NotRecognisedError: (409, "determination-not-recognised"),
    errors.CatalogueVersionError: (422, "catalogue-version"),
    errors.InvalidDateError: (422, "invalid-date"),
    errors.InjuryError: (422, "injury-rule"),
}


class CatalogueItemNotFoundError(errors.InjuryError):
    def __init__(self, code: str) -> None:
        super().__init__(f"no work-injury catalogue has item {code}")


def request_table(
    store: PostgresEventStore,
    pool: asyncpg.Pool,
    clock: Clock,
    *,
    recorder: Recorder,
    deadlines: Deadlines,
    catalogue: Catalogues,
    index: SettlementIndex,
    declared: Reconciliations,
    people: People,
    region: str,
) -> dict[str, RequestHandler]:
    def cmd(model: Any, handler: Any, **deps: Any) -> RequestHandler:
        return command(store, clock, model, partial(handler, recorder=recorder, **deps), ERRORS)

    async def get_settlement(q: c.GetSettlement, _: Envelope[c.GetSettlement]) -> dict[str, Any]:
        async with store.transaction() as tx:
            return await settlements.get_settlement(tx, q.hospital_id, q.hospital_settlement_no, recorder=recorder)

    async def get_determination(q: c.GetDetermination, _: Envelope[c.GetDetermination]) -> dict[str, Any]:
        async with store.transaction() as tx:
            found = await determinations.get_determination(tx, q.determination_id, recorder=recorder)
        return {**found, "timers": await queries.timers(pool, determination_stream(q.determination_id))}

    async def list_agreements(q: c.ListAgreements, _: Envelope[c.ListAgreements]) -> list[Any]:
        ids = await queries.agreement_ids(pool)
        async with store.transaction() as tx:
            return await agreements.registry(tx, ids, q.on or local_date(clock.now()), recorder=recorder)

    async def catalogue_item(q: c.GetCatalogueItem, _: Envelope[c.GetCatalogueItem]) -> dict[str, Any]:
        async with store.transaction() as tx:
            found = await catalogues.get_item(tx, region, q.code, recorder=recorder)
        if found is None:
            raise CatalogueItemNotFoundError(q.code)
        return found

    async def person_settlements(q: c.ListPersonSettlements, _: Envelope[c.ListPersonSettlements]) -> list[Any]:
        return await queries.person_settlements(pool, q.person_ref, q.limit)

    async def list_reconciliations(q: c.ListReconciliations, _: Envelope[c.ListReconciliations]) -> list[Any]:
        return await queries.reconciliations(
            pool, day=q.day, hospital_id=q.hospital_id, mismatched_only=q.mismatched_only, limit=q.limit
        )

    async def figures(q: c.InjuryFigures, _: Envelope[c.InjuryFigures]) -> dict[str, Any]:
        return await queries.figures(pool, q.first, q.last)

    not_found: ErrorTable = {CatalogueItemNotFoundError: (404, "catalogue-item-not-found"), **ERRORS}
    return {
        "sign_agreement": cmd(c.SignAgreement, agreements.sign_agreement),
        "suspend_agreement": cmd(c.SuspendAgreement, agreements.suspend_agreement),
        "reinstate_agreement": cmd(c.ReinstateAgreement, agreements.reinstate_agreement),
        "terminate_agreement": cmd(c.TerminateAgreement, agreements.terminate_agreement),
        "apply_for_determination": cmd(
            c.ApplyForDetermination, determinations.apply_for_determination, deadlines=deadlines
        ),
        "accept_determination": cmd(c.AcceptDetermination, determinations.accept_determination, deadlines=deadlines),
        "decide_determination": cmd(c.DecideDetermination, determinations.decide_determination, deadlines=deadlines),
        "publish_catalogue_versions": cmd(c.PublishCatalogueVersions, catalogues.publish_catalogue_versions),
        "post_settlement": cmd(
            c.PostSettlement, settlements.post_settlement, catalogues=catalogue, index=index, people=people
        ),
        "reverse_settlement": cmd(c.ReverseSettlement, settlements.reverse_settlement),
        "resettle_settlement": cmd(c.ResettleSettlement, settlements.resettle_settlement),
        "declare_day_totals": cmd(
            c.DeclareDayTotals, reconciliations.declare_day_totals, index=index, reconciliations=declared
        ),
        "get_settlement": query(c.GetSettlement, get_settlement, ERRORS),
        "get_determination": query(c.GetDetermination, get_determination, ERRORS),
        "list_agreements": query(c.ListAgreements, list_agreements, ERRORS),
        "get_catalogue_item": query(c.GetCatalogueItem, catalogue_item, not_found),
        "list_person_settlements": query(c.ListPersonSettlements, person_settlements, ERRORS),
        "list_reconciliations": query(c.ListReconciliations, list_reconciliations, ERRORS),
        "injury_figures": query(c.InjuryFigures, figures, ERRORS),
    }
