"""Composition root of the injury service: the only module naming concrete adapters."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from importlib.resources import files
from typing import Any
from uuid import UUID

from contracts.subjects import Subjects
from injury.application import catalogues, determinations
from injury.domain.catalogue import CatalogueItem, item_from_row
from injury.domain.events import EVENT_TYPES
from injury.entrypoints.policies import resettlement_consumer
from injury.entrypoints.requests import request_table
from injury.lookups import PostgresCatalogues, PostgresReconciliations, PostgresSettlementIndex, PseudonymousPeople
from injury.projections import InjuryProjection
from injury.translation import DETERMINATION_DECIDED, to_public
from runtime.clock import Clock
from runtime.deadlines import Deadline, Timers
from runtime.eventstore import ConcurrencyError, PostgresEventStore, PostgresTransaction
from runtime.host import Resources, ServiceParts
from runtime.messaging import StreamSpec
from runtime.recording import CommandContext, EventRecorder
from runtime.tracing import current_traceparent

SERVICE = "injury"

# An encounter settled for a worker (through the network or held as self-pay), counted once when posted.
HANDLED = frozenset({"SettlementPosted", "SettlementHeldAsSelfPay"})

log = logging.getLogger(__name__)


def _system_context(
    region: str, clock: Clock, *, command_id: UUID | None = None, traceparent: str | None = None
) -> CommandContext:
    return CommandContext.of_system(
        region, clock.now(), command_id=command_id, traceparent=traceparent or current_traceparent()
    )


def deadline_handler(recorder: Any, clock: Clock, region: str) -> Any:
    async def on_deadline(tx: PostgresTransaction, deadline: Deadline) -> None:
        ctx = _system_context(region, clock, command_id=deadline.deadline_id, traceparent=deadline.traceparent)
        await determinations.stage_deadline_passed(
            tx, deadline.stream_id, deadline.payload["stage"], deadline.due_at, ctx, recorder=recorder
        )

    return on_deadline


def sample_catalogue(region: str) -> list[CatalogueItem]:
    """The shipped sample catalogue (`injury/catalogue/sample.json`), for the region it was made for."""
    raw = json.loads((files("injury") / "catalogue" / "sample.json").read_text(encoding="utf-8"))
    if not str(raw["region"]).startswith(region):
        return []
    return [item_from_row(row) for row in raw["items"]]


def catalogue_loader(
    store: PostgresEventStore, recorder: Any, clock: Clock, region: str
) -> Callable[[asyncio.Event], Awaitable[None]]:
    """Loads the sample at start; idempotent by content, so every start and every replica may run it."""
    versions = sample_catalogue(region)

    async def load(stop: asyncio.Event) -> None:
        for _ in range(5):
            if not versions or stop.is_set():
                return
            try:
                async with store.transaction() as tx:
                    added = await catalogues.load_versions(
                        tx, versions, _system_context(region, clock), recorder=recorder
                    )
            except ConcurrencyError:  # another replica loaded it meanwhile: look again
                continue
            log.info("sample catalogue loaded", extra={"region": region, "versions_added": added})
            return

    return load


def build(resources: Resources) -> ServiceParts:
    settings = resources.settings
    subjects = Subjects(settings.subject_root)
    region = settings.region
    salt = settings.pseudonym_salt.encode()
    recorder = EventRecorder(SERVICE, subjects, EVENT_TYPES, partial(to_public, region=region))
    events_stream = StreamSpec(subjects.events_stream(region, SERVICE), (subjects.events_of(region, SERVICE),))
    index = PostgresSettlementIndex()
    people = PseudonymousPeople(salt)
    return ServiceParts(
        name=SERVICE,
        migrations=[files("injury") / "migrations"],
        requests=request_table(
            resources.store,
            resources.pool,
            resources.clock,
            recorder=recorder,
            deadlines=Timers(resources.calendar),
            catalogue=PostgresCatalogues(recorder, region),
            index=index,
            declared=PostgresReconciliations(),
            people=people,
            region=region,
        ),
        events_stream=events_stream,
        handled=HANDLED,
        consumers=[
            resettlement_consumer(
                f"{SERVICE}-{region}-resettle",
                events_stream.name,
                subjects.event(region, SERVICE, DETERMINATION_DECIDED),
                resources.clock,
                recorder=recorder,
                index=index,
                people=people,
            )
        ],
        projections=[InjuryProjection(salt)],
        on_deadline=deadline_handler(recorder, resources.clock, region),
        extra_tasks=[catalogue_loader(resources.store, recorder, resources.clock, region)],
    )
