"""The public contracts: committed JSON Schemas, round trips, extra-field policy and type names."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest
from pydantic import BaseModel, ValidationError

from contracts import codec, registry, schemas
from contracts.enrolment import commands as ec
from contracts.enrolment import events as ee
from contracts.enrolment.commands import GetEmployer, RegisterEmployer
from contracts.enrolment.events import EmployerRegisteredV1
from contracts.envelope import Actor, ActorKind, Channel, envelope_for
from contracts.queries import HandledServices
from contracts.replies import FieldError, Problem, Reply
from contracts.subjects import SERVICES
from contracts.transfer import commands as tc
from contracts.transfer import messages as tm
from tests.contract.arrears_samples import ARREARS_SAMPLES
from tests.contract.injury_samples import INJURY_SAMPLES

CREDIT_CODE = "91350100M000100Y43"
DIVISION_CODE = "360102"
NOW = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)


def register_employer() -> RegisterEmployer:
    return RegisterEmployer(
        credit_code=CREDIT_CODE,
        name="南昌示例科技有限公司",
        division_code=DIVISION_CODE,
        industry_code="I65",
        established_on=date(2024, 11, 1),
    )


def get_employer() -> GetEmployer:
    return GetEmployer(credit_code=CREDIT_CODE)


def handled_services() -> HandledServices:
    return HandledServices(first=date(2025, 3, 1), last=date(2025, 3, 31))


def employer_registered() -> EmployerRegisteredV1:
    return EmployerRegisteredV1(
        employer_id=f"employer-{CREDIT_CODE}",
        credit_code=CREDIT_CODE,
        name="南昌示例科技有限公司",
        division_code=DIVISION_CODE,
        industry_code="I65",
        established_on=date(2024, 11, 1),
        route="36/360102",
        registered_at=NOW,
    )


def actor() -> Actor:
    return Actor(kind=ActorKind.OPERATOR, id="op-0042", region="36", role="counter_clerk")


def problem() -> Problem:
    return Problem(
        type="https://yiwang.example/problems/invalid-request",
        title="The request is not valid",
        status=400,
        detail="credit_code: bad check character",
        errors=[FieldError(field="credit_code", message="bad check character")],
    )


def reply() -> Reply:
    return Reply(ok=True, result={"employer_id": f"employer-{CREDIT_CODE}", "version": 1})


CITIZEN = "11010519491231002X"
RECORD = {
    "record_id": "feed-1",
    "credit_code": CREDIT_CODE,
    "name": "南昌示例科技有限公司",
    "division_code": DIVISION_CODE,
    "industry_code": "C3110",
    "established_on": date(2024, 11, 1),
    "market_registered_at": NOW,
}
PERSON = {"person_ref": "0123456789abcdef", "employer_credit_code": CREDIT_CODE}
MONTH_FEN = {  # a person's month as every version of the assessment writes it
    "base_fen": 600_000,
    "employer_total_fen": 100_000,
    "worker_total_fen": 60_000,
    "pension_employer_fen": 96_000,
    "account_fen": 48_000,
}

SAMPLES: dict[type[BaseModel], Callable[[], BaseModel]] = {
    ec.ImportMarketRegistration: lambda: ec.ImportMarketRegistration(**RECORD),
    ec.ApproveHeldRegistration: lambda: ec.ApproveHeldRegistration(credit_code=CREDIT_CODE),
    ec.AssignInjuryClass: lambda: ec.AssignInjuryClass(credit_code=CREDIT_CODE, risk_class=2, tier=Decimal("1.2")),
    ec.EnrolEmployee: lambda: ec.EnrolEmployee(
        citizen_id=CITIZEN,
        employer_credit_code=CREDIT_CODE,
        schemes=[ec.Scheme.PENSION],
        hired_on=date(2025, 1, 2),
        declared_monthly_wage_fen=800_000,
    ),
    ec.EnrolEmployees: lambda: ec.EnrolEmployees(
        enrolments=[
            ec.EnrolEmployee(
                citizen_id=CITIZEN,
                employer_credit_code=CREDIT_CODE,
                hired_on=date(2025, 1, 2),
                declared_monthly_wage_fen=800_000,
            )
        ]
    ),
    ec.EndEmployment: lambda: ec.EndEmployment(
        citizen_id=CITIZEN, employer_credit_code=CREDIT_CODE, ended_on=date(2025, 6, 30)
    ),
    ec.EndEmployments: lambda: ec.EndEmployments(
        ends=[ec.EndEmployment(citizen_id=CITIZEN, employer_credit_code=CREDIT_CODE, ended_on=date(2025, 6, 30))]
    ),
    ec.DeclareBase: lambda: ec.DeclareBase(
        citizen_id=CITIZEN, employer_credit_code=CREDIT_CODE, year=2025, declared_monthly_wage_fen=700_000
    ),
    ec.AssessContributions: lambda: ec.AssessContributions(employer_credit_code=CREDIT_CODE, month="2025-03"),
    ec.AssessEmployers: lambda: ec.AssessEmployers(month="2025-03", employer_credit_codes=[CREDIT_CODE]),
    ec.RecordPayment: lambda: ec.RecordPayment(
        employer_credit_code=CREDIT_CODE, month="2025-03", paid_on=date(2025, 4, 20)
    ),
    ec.RecordPayments: lambda: ec.RecordPayments(
        payments=[ec.RecordPayment(employer_credit_code=CREDIT_CODE, month="2025-03", paid_on=date(2025, 4, 20))]
    ),
    ec.GetPerson: lambda: ec.GetPerson(citizen_id=CITIZEN),
    ec.ListReviewQueue: lambda: ec.ListReviewQueue(limit=10),
    ec.ActivePension: lambda: ec.ActivePension(person_ref="0123456789abcdef", month="2025-03"),
    ec.ActivePensions: lambda: ec.ActivePensions(
        asked=[ec.ActivePension(person_ref="0123456789abcdef", month="2025-03")]
    ),
    ec.PersonStanding: lambda: ec.PersonStanding(person_ref="0123456789abcdef"),
    ec.EnrolmentFigures: lambda: ec.EnrolmentFigures(first=date(2025, 1, 1), last=date(2025, 12, 31)),
    ee.InjuryClassSetV1: lambda: ee.InjuryClassSetV1(
        credit_code=CREDIT_CODE, risk_class=6, tier=Decimal("1.0"), rate=Decimal("0.013"), how="matched"
    ),
    ee.EmployeeEnrolledV1: lambda: ee.EmployeeEnrolledV1(
        **PERSON, citizen_id=CITIZEN, schemes=["pension"], hired_on=date(2025, 1, 2), base_fen=600_000, late=False
    ),
    ee.EmployeeEnrolledV2: lambda: ee.EmployeeEnrolledV2(
        lines=[
            ee.EnrolledLineV2(
                **PERSON,
                citizen_id=CITIZEN,
                schemes=["pension"],
                hired_on=date(2025, 1, 2),
                base_fen=600_000,
                late=False,
            )
        ]
    ),
    ee.EmploymentEndedV1: lambda: ee.EmploymentEndedV1(**PERSON, ended_on=date(2025, 6, 30)),
    ee.EmploymentEndedV2: lambda: ee.EmploymentEndedV2(lines=[ee.EndedLineV2(**PERSON, ended_on=date(2025, 6, 30))]),
    ee.ContributionAssessedV1: lambda: ee.ContributionAssessedV1(
        **PERSON,
        citizen_id=CITIZEN,
        region="36",
        month="2025-03",
        **MONTH_FEN,
        due_on=date(2025, 4, 15),
    ),
    ee.ContributionPaidV1: lambda: ee.ContributionPaidV1(
        **PERSON, month="2025-03", amount_fen=160_000, late_fee_fen=0, paid_on=date(2025, 4, 10)
    ),
    ee.DeadlineBreachedV1: lambda: ee.DeadlineBreachedV1(
        kind="contribution_due", stream_id="person-x", due_on=date(2025, 4, 15)
    ),
    ee.ContributionAssessedV2: lambda: ee.ContributionAssessedV2(
        employer_credit_code=CREDIT_CODE,
        region="36",
        month="2025-03",
        due_on=date(2025, 4, 15),
        lines=[
            ee.AssessedLineV2(
                person_ref=PERSON["person_ref"],
                citizen_id=CITIZEN,
                **MONTH_FEN,
            )
        ],
    ),
    ee.ContributionPaidV2: lambda: ee.ContributionPaidV2(
        employer_credit_code=CREDIT_CODE,
        month="2025-03",
        paid_on=date(2025, 4, 10),
        lines=[ee.PaidLineV2(person_ref=PERSON["person_ref"], amount_fen=160_000, late_fee_fen=0)],
    ),
    ee.DeadlineBreachedV2: lambda: ee.DeadlineBreachedV2(
        kind="contribution_due", due_on=date(2025, 4, 15), stream_ids=["person-x", "person-y"]
    ),
    ee.ContributionAssessedV3: lambda: ee.ContributionAssessedV3(
        region="36",
        month="2025-03",
        due_on=date(2025, 4, 15),
        lines=[
            ee.AssessedLineV3(
                **PERSON,
                citizen_id=CITIZEN,
                **MONTH_FEN,
            )
        ],
    ),
    ee.ContributionPaidV3: lambda: ee.ContributionPaidV3(
        month="2025-03", paid_on=date(2025, 4, 10), lines=[ee.PaidLineV3(**PERSON, amount_fen=160_000, late_fee_fen=0)]
    ),
    ee.DeadlineBreachedV3: lambda: ee.DeadlineBreachedV3(
        kind="contribution_due",
        lines=[
            ee.BreachLineV3(stream_id="person-x", due_on=date(2025, 4, 15), employer_credit_code=CREDIT_CODE),
            ee.BreachLineV3(stream_id="employer-y", due_on=date(2025, 4, 2)),
        ],
    ),
    tc.ApplyForTransfer: lambda: tc.ApplyForTransfer(citizen_id=CITIZEN, from_region="44"),
    tc.GetTransfer: lambda: tc.GetTransfer(case_id="0b8f6c1e-case"),
    tc.ListTransfers: lambda: tc.ListTransfers(),
    tc.TransferFigures: lambda: tc.TransferFigures(first=date(2025, 1, 1), last=date(2025, 12, 31)),
    tm.ContactLetterV1: lambda: tm.ContactLetterV1(
        case_id="c-1", person_ref="0123456789abcdef", citizen_id=CITIZEN, from_region="36", to_region="44"
    ),
    tm.InformationSheetV1: lambda: tm.InformationSheetV1(
        case_id="c-1",
        periods=[
            tm.PeriodV1(month="2025-01", base_fen=500_000, kind="employee", employer_rate="0.16", account_fen=40_000)
        ],
        individual_fen=40_000,
        pooled_fen=60_000,
        returned_periods=[],
    ),
    tm.FundsTransferredV1: lambda: tm.FundsTransferredV1(case_id="c-1", amount_fen=100_000, reference="44-c-1"),
    tm.TransferStageV1: lambda: tm.TransferStageV1(case_id="c-1", step="applied", region="36", at=NOW),
    tm.TransferStagesV2: lambda: tm.TransferStagesV2(
        case_id="c-1",
        region="44",
        steps=[
            tm.StageStepV2(step="contact_letter_received", at=NOW),
            tm.StageStepV2(step="information_sheet_issued", at=NOW),
        ],
    ),
    RegisterEmployer: register_employer,
    GetEmployer: get_employer,
    HandledServices: handled_services,
    EmployerRegisteredV1: employer_registered,
    Actor: actor,
    Problem: problem,
    Reply: reply,
    **ARREARS_SAMPLES,
    **INJURY_SAMPLES,
}

ALL = registry.all_contracts()
REFUSING = {**registry.COMMANDS, **registry.QUERIES}
SNAKE_VERSION = r"\.[a-z][a-z0-9]*(?:_[a-z0-9]+)*\.v[1-9][0-9]*"
TYPE_NAME = re.compile(rf"cn\.yiwang\.(?:{'|'.join(SERVICES)}){SNAKE_VERSION}")
QUERY_TYPE_NAME = re.compile(rf"cn\.yiwang\.(?:{'|'.join(SERVICES)}|any){SNAKE_VERSION}")
"""Queries every service answers are named after the pseudo-service `any`."""


def sample(model: type[BaseModel]) -> BaseModel:
    if model not in SAMPLES:
        pytest.fail(f"add a sample factory for {model.__name__} to SAMPLES in {__file__}")
    return SAMPLES[model]()


# Committed schemas


def test_the_committed_schemas_equal_a_fresh_export() -> None:
    assert schemas.check() == []
    committed = {path.name: path.read_text(encoding="utf-8") for path in schemas.SCHEMA_DIR.glob("*.json")}
    assert committed == schemas.generate()


def test_the_schema_folder_name_cannot_shadow_a_python_module() -> None:
    assert schemas.SCHEMA_DIR.parent.name == "contracts"
    assert not schemas.SCHEMA_DIR.name.isidentifier()
    assert schemas.__file__ is not None
    assert Path(schemas.__file__).name == "schemas.py"


def test_there_is_one_schema_file_per_registry_entry_named_after_its_key() -> None:
    assert set(schemas.generate()) == {f"{name}.json" for name in ALL}


def test_schema_files_are_pretty_printed_with_sorted_keys_and_a_trailing_newline() -> None:
    for file_name, text in schemas.generate().items():
        parsed = json.loads(text)
        assert text == json.dumps(parsed, indent=2, sort_keys=True, ensure_ascii=False) + "\n", file_name
        assert parsed["$schema"] == schemas.JSON_SCHEMA_DIALECT


@pytest.mark.parametrize("name", sorted({**registry.COMMANDS, **registry.EVENTS}))
def test_commands_and_events_are_exported_inside_the_envelope(name: str) -> None:
    model = ALL[name]
    exported = json.loads(schemas.generate()[f"{name}.json"])
    assert exported["properties"]["data"] == {"$ref": f"#/$defs/{model.__name__}"}
    assert {"specversion", "id", "source", "type", "time", "region", "actor", "channel"} <= set(exported["properties"])
    assert exported["$defs"][model.__name__]["title"] == model.__name__


@pytest.mark.parametrize("name", sorted({**registry.QUERIES, **registry.SHARED}))
def test_queries_and_shared_models_are_exported_bare(name: str) -> None:
    exported = json.loads(schemas.generate()[f"{name}.json"])
    assert exported["title"] == ALL[name].__name__
    assert "data" not in exported.get("properties", {})


def test_export_into_an_empty_folder_then_check_finds_nothing_to_report(tmp_path: Path) -> None:
    written = schemas.export(tmp_path)
    assert sorted(p.name for p in written) == sorted(schemas.generate())
    assert schemas.check(tmp_path) == []
    assert schemas.export(tmp_path) == []
    assert schemas.main(["check", "--dir", str(tmp_path)]) == 0


def test_check_names_missing_changed_and_stray_files(tmp_path: Path) -> None:
    schemas.export(tmp_path)
    (tmp_path / "actor.json").unlink()
    (tmp_path / "reply.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "cn.yiwang.enrolment.employer_closed.v1.json").write_text("{}\n", encoding="utf-8")

    problems = schemas.check(tmp_path)

    assert problems == [
        f"missing: {tmp_path / 'actor.json'}",
        f"differs: {tmp_path / 'reply.json'}",
        f"stray (not in the registry): {tmp_path / 'cn.yiwang.enrolment.employer_closed.v1.json'}",
    ]
    assert schemas.main(["check", "--dir", str(tmp_path)]) == 1


def test_check_of_a_folder_that_does_not_exist_reports_every_file_missing(tmp_path: Path) -> None:
    problems = schemas.check(tmp_path / "nowhere")
    assert len(problems) == len(ALL)
    assert all(line.startswith("missing: ") for line in problems)


def test_export_repairs_the_folder_and_removes_stray_files(tmp_path: Path) -> None:
    schemas.export(tmp_path)
    (tmp_path / "reply.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "retired.json").write_text("{}\n", encoding="utf-8")

    touched = schemas.export(tmp_path)

    assert sorted(p.name for p in touched) == ["reply.json", "retired.json"]
    assert not (tmp_path / "retired.json").exists()
    assert schemas.check(tmp_path) == []


# Round trips


def test_every_registry_model_has_a_sample_factory() -> None:
    assert set(ALL.values()) <= set(SAMPLES)


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_registry_model_round_trips_through_json(name: str) -> None:
    model = ALL[name]
    original = sample(model)

    assert model.model_validate_json(original.model_dump_json()) == original
    assert model.model_validate_json(original.model_dump_json(exclude_none=True)) == original


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_sample_is_valid_against_its_model_schema_shape(name: str) -> None:
    model = ALL[name]
    dumped = sample(model).model_dump(mode="json", by_alias=True)
    schema = model.model_json_schema()
    assert set(schema.get("required", [])) <= set(dumped)
    assert set(dumped) <= set(schema["properties"])


@pytest.mark.parametrize("name", sorted({**registry.COMMANDS, **registry.EVENTS}))
def test_commands_and_events_round_trip_inside_the_envelope(name: str) -> None:
    model = ALL[name]
    service, message, version = name.split(".")[2], name.split(".")[3], int(name.split(".")[4][1:])
    envelope = envelope_for(
        sample(model),
        service=service,
        message=message,
        version=version,
        region="36",
        actor=actor(),
        channel=Channel.COUNTER,
        time=NOW,
        correlationid=UUID("7d444840-9dc0-11d1-b245-5ffdce74fad2"),
        subject=f"employer-{CREDIT_CODE}",
    )

    decoded = codec.decode(codec.encode(envelope), model)

    assert decoded == envelope
    assert decoded.type == name


# Unknown fields


@pytest.mark.parametrize("name", sorted(registry.EVENTS))
def test_events_ignore_unknown_fields_so_producers_can_add_them(name: str) -> None:
    model = ALL[name]
    original = sample(model)
    payload = {**original.model_dump(mode="json"), "added_in_a_later_release": 1}

    parsed = model.model_validate(payload)

    assert parsed == original
    assert model.model_config.get("extra") == "ignore"


@pytest.mark.parametrize("name", sorted(REFUSING))
def test_commands_and_queries_refuse_unknown_fields(name: str) -> None:
    model = ALL[name]
    payload = {**sample(model).model_dump(mode="json"), "unexpected": "x"}

    with pytest.raises(ValidationError) as raised:
        model.model_validate(payload)

    assert [e["type"] for e in raised.value.errors()] == ["extra_forbidden"]
    assert model.model_config.get("extra") == "forbid"


# Type names


@pytest.mark.parametrize("name", sorted({**registry.EVENTS, **registry.COMMANDS}))
def test_every_event_and_command_type_name_is_cn_yiwang_service_snake_version(name: str) -> None:
    assert TYPE_NAME.fullmatch(name), name


@pytest.mark.parametrize("name", sorted(registry.QUERIES))
def test_every_query_type_name_names_its_service_or_any(name: str) -> None:
    assert QUERY_TYPE_NAME.fullmatch(name), name


@pytest.mark.parametrize(
    "bad",
    [
        "cn.yiwang.enrolment.EmployerRegistered.v1",
        "cn.yiwang.enrolment.employer_registered",
        "cn.yiwang.enrolment.employer_registered.v0",
        "cn.yiwang.payroll.employer_registered.v1",
        "cn.yiwang.any.employer_registered.v1",
        "com.yiwang.enrolment.employer_registered.v1",
        "cn.yiwang.enrolment.employer__registered.v1",
    ],
)
def test_the_type_name_rule_rejects_names_that_break_it(bad: str) -> None:
    assert not TYPE_NAME.fullmatch(bad)
