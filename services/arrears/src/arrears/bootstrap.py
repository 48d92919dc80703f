"""Composition root of the arrears service: the only module naming concrete adapters.

The service joins the stack (database, migrations, event stream, health) now; its commands
arrive with its own issue.
"""

from __future__ import annotations

from importlib.resources import files

from contracts.subjects import Subjects
from runtime.host import Resources, ServiceParts
from runtime.messaging import StreamSpec

SERVICE = "arrears"


def build(resources: Resources) -> ServiceParts:
    settings = resources.settings
    subjects = Subjects(settings.subject_root)
    events_stream = StreamSpec(
        subjects.events_stream(settings.region, SERVICE), (subjects.events_of(settings.region, SERVICE),)
    )
    return ServiceParts(
        name=SERVICE, migrations=[files("arrears") / "migrations"], requests={}, events_stream=events_stream
    )
