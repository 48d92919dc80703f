"""Every public contract by its CloudEvents type, for schema export and message documentation."""

from __future__ import annotations

from pydantic import BaseModel

from contracts.enrolment import commands as ec
from contracts.enrolment import events as ee
from contracts.envelope import Actor, type_name
from contracts.queries import HandledServices
from contracts.replies import Problem, Reply
from contracts.transfer import commands as tc
from contracts.transfer import messages as tm


def _named(service: str, models: dict[str, type[BaseModel]]) -> dict[str, type[BaseModel]]:
    return {type_name(service, name, 1): model for name, model in models.items()}


COMMANDS: dict[str, type[BaseModel]] = _named(
    "enrolment",
    {
        "import_market_registration": ec.ImportMarketRegistration,
        "register_employer": ec.RegisterEmployer,
        "approve_held_registration": ec.ApproveHeldRegistration,
        "assign_injury_class": ec.AssignInjuryClass,
        "enrol_employee": ec.EnrolEmployee,
        "end_employment": ec.EndEmployment,
        "declare_base": ec.DeclareBase,
        "assess_contributions": ec.AssessContributions,
        "record_payment": ec.RecordPayment,
    },
) | _named("transfer", {"apply_for_transfer": tc.ApplyForTransfer})

QUERIES: dict[str, type[BaseModel]] = {
    "cn.yiwang.any.handled_services.v1": HandledServices,
    **_named(
        "enrolment",
        {
            "get_employer": ec.GetEmployer,
            "get_person": ec.GetPerson,
            "list_review_queue": ec.ListReviewQueue,
            "active_pension": ec.ActivePension,
            "enrolment_figures": ec.EnrolmentFigures,
        },
    ),
    **_named(
        "transfer",
        {"get_transfer": tc.GetTransfer, "list_transfers": tc.ListTransfers, "transfer_figures": tc.TransferFigures},
    ),
}

EVENTS: dict[str, type[BaseModel]] = _named(
    "enrolment",
    {
        "employer_registered": ee.EmployerRegisteredV1,
        "injury_class_set": ee.InjuryClassSetV1,
        "employee_enrolled": ee.EmployeeEnrolledV1,
        "employment_ended": ee.EmploymentEndedV1,
        "contribution_assessed": ee.ContributionAssessedV1,
        "contribution_paid": ee.ContributionPaidV1,
        "deadline_breached": ee.DeadlineBreachedV1,
    },
) | _named(
    "transfer",
    {
        "contact_letter": tm.ContactLetterV1,
        "information_sheet": tm.InformationSheetV1,
        "funds_transferred": tm.FundsTransferredV1,
        "transfer_applied": tm.TransferStageV1,
        "transfer_stage": tm.TransferStageV1,
    },
)

SHARED: dict[str, type[BaseModel]] = {"actor": Actor, "problem": Problem, "reply": Reply}


def all_contracts() -> dict[str, type[BaseModel]]:
    return {**COMMANDS, **QUERIES, **EVENTS, **SHARED}
