"""Composition root of the arrears service: the only module naming concrete adapters."""

from __future__ import annotations

import json
from functools import partial
from importlib.resources import files
from typing import Any

from arrears.application.aggregates import Keeping
from arrears.application.deadlines import deadline_passed
from arrears.domain.events import EVENT_TYPES
from arrears.entrypoints.requests import request_table
from arrears.projections import ArrearsProjection
from arrears.translation import to_public
from contracts.subjects import Subjects
from runtime.clock import Clock
from runtime.deadlines import Deadline, Timers
from runtime.eventstore import PostgresTransaction
from runtime.host import Resources, ServiceParts
from runtime.messaging import StreamSpec
from runtime.recording import CommandContext, EventRecorder

SERVICE = "arrears"

# A complaint received (not a repeat of one) is a service handled, counted for the online-handling share.
HANDLED = frozenset({"LeadReceived"})

# Share of closed cases drawn for the post-closure review (复查); every disputed case is reviewed too.
REVIEW_SAMPLE_PERCENT = 10

# A timer firing while a command changes the same lead or case decides again on the new state.


def known_districts(region: str) -> frozenset[str]:
    """The districts of the region a lead can be routed to (GB/T 2260), shipped in `arrears/districts.json`."""
    shipped: dict[str, dict[str, str]] = json.loads((files("arrears") / "districts.json").read_text("utf-8"))
    return frozenset(shipped.get(region, {}))


def deadline_handler(keep: Keeping, clock: Clock, region: str) -> Any:
    async def on_deadline(tx: PostgresTransaction, deadline: Deadline) -> None:
        ctx = CommandContext.of_system(
            region, clock.now(), command_id=deadline.deadline_id, traceparent=deadline.traceparent
        )
        # A conflict with a command on the same stream leaves the deadline pending for the next round.
        await deadline_passed(tx, deadline.stream_id, deadline.kind, deadline.payload, deadline.due_at, ctx, keep=keep)

    return on_deadline


def build(resources: Resources) -> ServiceParts:
    settings = resources.settings
    subjects = Subjects(settings.subject_root)
    region = settings.region
    salt = settings.pseudonym_salt.encode()
    recorder = EventRecorder(SERVICE, subjects, EVENT_TYPES, partial(to_public, region=region))
    keep = Keeping(recorder, Timers(resources.calendar), review_sample_percent=REVIEW_SAMPLE_PERCENT)
    events_stream = StreamSpec(subjects.events_stream(region, SERVICE), (subjects.events_of(region, SERVICE),))
    return ServiceParts(
        name=SERVICE,
        migrations=[files("arrears") / "migrations"],
        requests=request_table(
            resources.store, resources.pool, resources.clock, keep=keep, districts=known_districts(region), salt=salt
        ),
        events_stream=events_stream,
        handled=HANDLED,
        projections=[ArrearsProjection(salt)],
        on_deadline=deadline_handler(keep, resources.clock, region),
    )
