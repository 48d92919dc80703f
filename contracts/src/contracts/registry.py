"""Every public contract by its CloudEvents type, for schema export and message documentation."""

from __future__ import annotations

from pydantic import BaseModel

from contracts.arrears import commands as ac
from contracts.arrears import events as ae
from contracts.enrolment import commands as ec
from contracts.enrolment import events as ee
from contracts.envelope import Actor, type_name
from contracts.injury import commands as ic
from contracts.injury import events as ie
from contracts.queries import HandledServices
from contracts.replies import Problem, Reply
from contracts.transfer import commands as tc
from contracts.transfer import messages as tm


def _named(service: str, models: dict[str, type[BaseModel]], version: int = 1) -> dict[str, type[BaseModel]]:
    return {type_name(service, name, version): model for name, model in models.items()}


COMMANDS: dict[str, type[BaseModel]] = (
    _named(
        "enrolment",
        {
            "import_market_registration": ec.ImportMarketRegistration,
            "register_employer": ec.RegisterEmployer,
            "approve_held_registration": ec.ApproveHeldRegistration,
            "assign_injury_class": ec.AssignInjuryClass,
            "enrol_employee": ec.EnrolEmployee,
            "enrol_employees": ec.EnrolEmployees,
            "end_employment": ec.EndEmployment,
            "end_employments": ec.EndEmployments,
            "declare_base": ec.DeclareBase,
            "assess_contributions": ec.AssessContributions,
            "assess_employers": ec.AssessEmployers,
            "record_payment": ec.RecordPayment,
            "record_payments": ec.RecordPayments,
        },
    )
    | _named("transfer", {"apply_for_transfer": tc.ApplyForTransfer})
    | _named(
        "arrears",
        {
            "receive_complaint": ac.ReceiveComplaint,
            "route_lead": ac.RouteLead,
            "accept_complaint": ac.AcceptComplaint,
            "refuse_complaint": ac.RefuseComplaint,
            "extend_investigation": ac.ExtendInvestigation,
            "order_payment": ac.OrderPayment,
            "record_wages_paid": ac.RecordWagesPaid,
            "record_general_contractor_payment": ac.RecordGeneralContractorPayment,
            "impose_penalty": ac.ImposePenalty,
            "order_additional_compensation": ac.OrderAdditionalCompensation,
            "transfer_case": ac.TransferCase,
            "withdraw_case": ac.WithdrawCase,
            "close_case": ac.CloseCase,
            "dispute_case": ac.DisputeCase,
            "record_review": ac.RecordReview,
        },
    )
    | _named(
        "injury",
        {
            "sign_agreement": ic.SignAgreement,
            "suspend_agreement": ic.SuspendAgreement,
            "reinstate_agreement": ic.ReinstateAgreement,
            "terminate_agreement": ic.TerminateAgreement,
            "apply_for_determination": ic.ApplyForDetermination,
            "accept_determination": ic.AcceptDetermination,
            "decide_determination": ic.DecideDetermination,
            "publish_catalogue_versions": ic.PublishCatalogueVersions,
            "post_settlement": ic.PostSettlement,
            "reverse_settlement": ic.ReverseSettlement,
            "resettle_settlement": ic.ResettleSettlement,
            "declare_day_totals": ic.DeclareDayTotals,
        },
    )
)

QUERIES: dict[str, type[BaseModel]] = {
    "cn.yiwang.any.handled_services.v1": HandledServices,
    **_named(
        "enrolment",
        {
            "get_employer": ec.GetEmployer,
            "get_person": ec.GetPerson,
            "list_review_queue": ec.ListReviewQueue,
            "active_pension": ec.ActivePension,
            "active_pensions": ec.ActivePensions,
            "person_standing": ec.PersonStanding,
            "enrolment_figures": ec.EnrolmentFigures,
        },
    ),
    **_named(
        "transfer",
        {"get_transfer": tc.GetTransfer, "list_transfers": tc.ListTransfers, "transfer_figures": tc.TransferFigures},
    ),
    **_named(
        "arrears",
        {
            "get_lead": ac.GetLead,
            "get_case": ac.GetCase,
            "my_arrears": ac.MyArrears,
            "list_district_cases": ac.ListDistrictCases,
            "list_supervised": ac.ListSupervised,
            "arrears_figures": ac.ArrearsFigures,
        },
    ),
    **_named(
        "injury",
        {
            "get_settlement": ic.GetSettlement,
            "get_determination": ic.GetDetermination,
            "list_agreements": ic.ListAgreements,
            "get_catalogue_item": ic.GetCatalogueItem,
            "list_person_settlements": ic.ListPersonSettlements,
            "list_reconciliations": ic.ListReconciliations,
            "injury_figures": ic.InjuryFigures,
        },
    ),
}

EVENTS: dict[str, type[BaseModel]] = (
    _named(
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
    )
    | _named(
        "enrolment",
        {
            "employee_enrolled": ee.EmployeeEnrolledV2,
            "employment_ended": ee.EmploymentEndedV2,
            "contribution_assessed": ee.ContributionAssessedV2,
            "contribution_paid": ee.ContributionPaidV2,
            "deadline_breached": ee.DeadlineBreachedV2,
        },
        version=2,
    )
    | _named(
        "enrolment",
        {
            "contribution_assessed": ee.ContributionAssessedV3,
            "contribution_paid": ee.ContributionPaidV3,
            "deadline_breached": ee.DeadlineBreachedV3,
        },
        version=3,
    )
    | _named(
        "transfer",
        {
            "contact_letter": tm.ContactLetterV1,
            "information_sheet": tm.InformationSheetV1,
            "funds_transferred": tm.FundsTransferredV1,
            "transfer_applied": tm.TransferStageV1,
            "transfer_stage": tm.TransferStageV1,
        },
    )
    | _named("transfer", {"transfer_stage": tm.TransferStagesV2}, version=2)
    | _named(
        "arrears",
        {
            "lead_received": ae.LeadReceivedV1,
            "arrears_step": ae.ArrearsStepV1,
            "case_closed": ae.CaseClosedV1,
            "supervision": ae.SupervisionV1,
        },
    )
    | _named(
        "injury",
        {
            "settlement_posted": ie.SettlementPostedV1,
            "settlement_resettled": ie.SettlementResettledV1,
            "settlement_reversed": ie.SettlementReversedV1,
            "determination_decided": ie.DeterminationDecidedV1,
        },
    )
)

SHARED: dict[str, type[BaseModel]] = {"actor": Actor, "problem": Problem, "reply": Reply}


def all_contracts() -> dict[str, type[BaseModel]]:
    return {**COMMANDS, **QUERIES, **EVENTS, **SHARED}
