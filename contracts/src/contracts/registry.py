"""Every public contract by its CloudEvents type, for schema export and message documentation."""

from __future__ import annotations

from pydantic import BaseModel

from contracts.enrolment import commands as enrolment_commands
from contracts.enrolment import events as enrolment_events
from contracts.envelope import Actor, type_name
from contracts.queries import HandledServices
from contracts.replies import Problem, Reply

COMMANDS: dict[str, type[BaseModel]] = {
    type_name("enrolment", "register_employer", 1): enrolment_commands.RegisterEmployer,
}

QUERIES: dict[str, type[BaseModel]] = {
    "cn.yiwang.any.handled_services.v1": HandledServices,
    type_name("enrolment", "get_employer", 1): enrolment_commands.GetEmployer,
}

EVENTS: dict[str, type[BaseModel]] = {
    type_name("enrolment", "employer_registered", 1): enrolment_events.EmployerRegisteredV1,
}

SHARED: dict[str, type[BaseModel]] = {"actor": Actor, "problem": Problem, "reply": Reply}


def all_contracts() -> dict[str, type[BaseModel]]:
    return {**COMMANDS, **QUERIES, **EVENTS, **SHARED}
