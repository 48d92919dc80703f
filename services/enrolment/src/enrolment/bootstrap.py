"""Composition root of the enrolment service: the only module naming concrete adapters."""

from __future__ import annotations

from importlib.resources import files

from contracts.envelope import type_name
from contracts.subjects import Subjects
from enrolment.domain.events import EmployerRegistered
from enrolment.entrypoints.requests import request_table
from enrolment.projections import EmployersProjection
from enrolment.translation import to_public
from runtime.host import Resources, ServiceParts
from runtime.messaging import StreamSpec
from runtime.recording import EventRecorder

SERVICE = "enrolment"

# Public events that complete a service for someone, counted for the online-handling share.
HANDLED = frozenset({type_name(SERVICE, "employer_registered", 1)})


def build(resources: Resources) -> ServiceParts:
    settings = resources.settings
    subjects = Subjects(settings.subject_root)
    recorder = EventRecorder(SERVICE, subjects, [EmployerRegistered], to_public)
    events_stream = StreamSpec(
        subjects.events_stream(settings.region, SERVICE), (subjects.events_of(settings.region, SERVICE),)
    )
    return ServiceParts(
        name=SERVICE,
        migrations=[files("enrolment") / "migrations"],
        requests=request_table(resources.store, resources.pool, resources.clock, recorder),
        events_stream=events_stream,
        projections=[EmployersProjection()],
        handled=HANDLED,
    )
