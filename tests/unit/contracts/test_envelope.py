"""The envelope (CloudEvents attributes plus yiwang's), the codec and subject names."""

from __future__ import annotations

import gc
import json
import weakref
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from pydantic import BaseModel, ValidationError

from contracts import codec
from contracts.enrolment.commands import RegisterEmployer
from contracts.envelope import (
    SYSTEM_ACTOR,
    Actor,
    ActorKind,
    Channel,
    Envelope,
    envelope_for,
    source_of,
    type_name,
)
from contracts.replies import PROBLEM_BASE
from contracts.subjects import Subjects

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
NOW = datetime(2025, 3, 14, 17, 26, 53, tzinfo=BEIJING)
CORRELATION = UUID("7d444840-9dc0-11d1-b245-5ffdce74fad2")
CAUSATION = UUID("0f8fad5b-d9cb-469f-a165-70867728950e")
CLERK = Actor(kind=ActorKind.OPERATOR, id="op-0042", region="36", role="counter_clerk")


def register_employer() -> RegisterEmployer:
    return RegisterEmployer(
        credit_code="91350100M000100Y43",
        name="南昌示例科技有限公司",
        division_code="360102",
        industry_code="I65",
        established_on=date(2024, 11, 1),
    )


_ENVELOPE: dict[str, object] = {
    "service": "enrolment",
    "message": "register_employer",
    "region": "36",
    "actor": CLERK,
    "channel": Channel.COUNTER,
    "time": NOW,
    "correlationid": CORRELATION,
    "causationid": CAUSATION,
    "subject": "employer-91350100M000100Y43",
}


def build(**overrides: object) -> Envelope[RegisterEmployer]:
    return envelope_for(register_employer(), **{**_ENVELOPE, **overrides})  # type: ignore[arg-type]


def valid_wire() -> dict[str, object]:
    return json.loads(codec.encode(build()))  # type: ignore[no-any-return]


# envelope_for


def test_envelope_for_fills_the_cloudevents_attributes() -> None:
    envelope = build()

    assert envelope.specversion == "1.0"
    assert isinstance(envelope.id, UUID)
    assert envelope.source == "/yiwang/36/enrolment"
    assert envelope.type == "cn.yiwang.enrolment.register_employer.v1"
    assert envelope.subject == "employer-91350100M000100Y43"
    assert envelope.time == NOW
    assert envelope.time.utcoffset() == timedelta(hours=8)
    assert envelope.datacontenttype == "application/json"


def test_envelope_for_adds_region_correlation_causation_actor_and_channel() -> None:
    envelope = build()

    assert envelope.region == "36"
    assert envelope.correlationid == CORRELATION
    assert envelope.causationid == CAUSATION
    assert envelope.actor == CLERK
    assert envelope.channel is Channel.COUNTER
    assert envelope.data == register_employer()


def test_on_the_wire_the_envelope_uses_exactly_the_cloudevents_and_yiwang_attribute_names() -> None:
    wire = valid_wire()

    assert set(wire) == {
        "specversion",
        "id",
        "source",
        "type",
        "subject",
        "time",
        "datacontenttype",
        "region",
        "correlationid",
        "causationid",
        "actor",
        "channel",
        "data",
    }
    assert wire["specversion"] == "1.0"
    assert wire["time"] == "2025-03-14T17:26:53+08:00"
    assert wire["channel"] == "counter"
    assert wire["actor"] == {"kind": "operator", "id": "op-0042", "region": "36", "role": "counter_clerk"}


def test_optional_attributes_are_left_off_the_wire_when_absent() -> None:
    wire = json.loads(codec.encode(build(causationid=None, subject=None, actor=SYSTEM_ACTOR)))

    assert "causationid" not in wire
    assert "subject" not in wire
    assert wire["actor"] == {"kind": "system", "id": "system"}


def test_each_envelope_gets_a_fresh_id_unless_one_is_given() -> None:
    given = uuid4()

    assert build().id != build().id
    assert build(id=given).id == given


def test_the_version_goes_into_the_type_name() -> None:
    assert build(version=3).type == "cn.yiwang.enrolment.register_employer.v3"
    assert type_name("transfer", "transfer_requested", 2) == "cn.yiwang.transfer.transfer_requested.v2"
    assert source_of("44", "injury") == "/yiwang/44/injury"


def test_an_envelope_is_immutable() -> None:
    envelope = build()

    with pytest.raises(ValidationError):
        envelope.region = "44"  # type: ignore[misc]


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        build(time=datetime(2025, 3, 14, 9, 26, 53))  # noqa: DTZ001 - the naive time under test

    assert [e["loc"] for e in raised.value.errors()] == [("time",)]
    assert raised.value.errors()[0]["type"] == "timezone_aware"


@pytest.mark.parametrize("region", ["99", "00", "360", "3", "ab", "360102", ""])
def test_a_region_that_is_not_a_province_code_is_refused(region: str) -> None:
    with pytest.raises(ValidationError) as raised:
        build(region=region)

    assert [e["loc"] for e in raised.value.errors()] == [("region",)]


def test_every_province_code_is_a_valid_region() -> None:
    for region in ("11", "36", "44", "65", "71", "81", "82"):
        assert build(region=region).region == region


def test_an_unknown_channel_is_refused() -> None:
    wire = {**valid_wire(), "channel": "carrier_pigeon"}

    with pytest.raises(ValidationError):
        codec.decode(json.dumps(wire).encode(), RegisterEmployer)


# codec


def test_decode_reads_back_what_encode_wrote() -> None:
    envelope = build()

    assert codec.decode(codec.encode(envelope), RegisterEmployer) == envelope


def test_decode_ignores_unknown_envelope_attributes_such_as_cloudevents_extensions() -> None:
    wire = {**valid_wire(), "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}

    assert codec.decode(json.dumps(wire).encode(), RegisterEmployer) == build(id=UUID(str(wire["id"])))


def test_the_envelope_model_decode_builds_outlives_the_cyclic_collector() -> None:
    """pydantic holds a parametrised model only weakly, and a class is a reference cycle: unless
    something holds it, a collection between two messages freed it and the next built it again."""

    class Note(BaseModel):
        text: str

    raw = codec.encode(envelope_for(Note(text="x"), **{**_ENVELOPE, "subject": None}))  # type: ignore[arg-type]
    built = weakref.ref(type(codec.decode(raw, Note)))
    gc.collect()

    assert built() is not None
    assert type(codec.decode(raw, Note)) is built()


def test_decode_of_bytes_that_are_not_json_raises_a_validation_error() -> None:
    with pytest.raises(ValidationError) as raised:
        codec.decode(b"{not json", RegisterEmployer)

    assert raised.value.errors()[0]["type"] == "json_invalid"


def test_decode_of_a_malformed_envelope_raises_a_validation_error_naming_each_field() -> None:
    wire = valid_wire()
    del wire["region"]
    wire["time"] = "2025-03-14T09:26:53"
    wire["specversion"] = "0.3"
    wire["data"] = {**register_employer().model_dump(mode="json"), "credit_code": "91350100M000100Y44"}

    with pytest.raises(ValidationError) as raised:
        codec.decode(json.dumps(wire).encode(), RegisterEmployer)

    locations = {".".join(str(p) for p in e["loc"]) for e in raised.value.errors()}
    assert locations == {"region", "time", "specversion", "data.credit_code"}


def test_invalid_turns_a_validation_error_into_a_400_problem_whose_errors_name_the_fields() -> None:
    wire = valid_wire()
    del wire["region"]
    wire["data"] = {**register_employer().model_dump(mode="json"), "division_code": "990101", "extra": 1}

    with pytest.raises(ValidationError) as raised:
        codec.decode(json.dumps(wire).encode(), RegisterEmployer)
    problem = codec.invalid(raised.value)

    assert problem.status == 400
    assert problem.type == PROBLEM_BASE + "invalid-request"
    assert problem.title == "The request is not valid"
    assert problem.errors is not None
    assert {e.field for e in problem.errors} == {"region", "data.division_code", "data.extra"}
    assert problem.detail is not None
    assert "region: Field required" in problem.detail
    assert "data.division_code: " in problem.detail


def test_invalid_can_prefix_the_field_names() -> None:
    with pytest.raises(ValidationError) as raised:
        RegisterEmployer.model_validate({**register_employer().model_dump(mode="json"), "name": "x"})

    problem = codec.invalid(raised.value, prefix="body.")

    assert problem.errors is not None
    assert [e.field for e in problem.errors] == ["body.name"]


def test_invalid_never_echoes_the_rejected_input() -> None:
    citizen_id = "11010519491231002X"
    wire = {**valid_wire(), "region": citizen_id}

    with pytest.raises(ValidationError) as raised:
        codec.decode(json.dumps(wire).encode(), RegisterEmployer)
    problem = codec.invalid(raised.value)

    assert citizen_id not in problem.model_dump_json()


def test_the_problem_detail_lists_at_most_five_fields_but_errors_lists_them_all() -> None:
    with pytest.raises(ValidationError) as raised:
        codec.decode(b'{"data": {}}', RegisterEmployer)
    problem = codec.invalid(raised.value)

    assert problem.errors is not None
    assert len(problem.errors) > 5
    assert problem.detail is not None
    assert problem.detail.count(": ") == 5


# Subjects


def test_subjects_follow_the_documented_layout() -> None:
    subjects = Subjects()

    assert subjects.command("36", "enrolment", "register_employer") == "yiwang.36.enrolment.cmd.register_employer"
    assert subjects.query("36", "enrolment", "get_employer") == "yiwang.36.enrolment.query.get_employer"
    assert subjects.event("36", "enrolment", "employer_registered") == "yiwang.36.enrolment.evt.employer_registered.v1"
    assert subjects.event("44", "transfer", "transfer_requested", 2) == "yiwang.44.transfer.evt.transfer_requested.v2"
    assert subjects.events_of("36", "enrolment") == "yiwang.36.enrolment.evt.>"
    assert subjects.traces("4bf92f3577b34da6a3ce929d0e0e4736") == "yiwang.traces.4bf92f3577b34da6a3ce929d0e0e4736"
    assert subjects.traces() == "yiwang.traces.*"
    assert subjects.calendar() == "yiwang.calendar.year_loaded"


def test_stream_names_are_upper_case_root_service_and_region() -> None:
    subjects = Subjects()

    assert subjects.events_stream("36", "enrolment") == "YIWANG_ENROLMENT_36"
    assert subjects.traces_stream() == "YIWANG_TRACES"


def test_the_events_wildcard_covers_every_event_subject_of_that_service_and_region() -> None:
    subjects = Subjects()
    wildcard = subjects.events_of("36", "enrolment").removesuffix(">")

    assert subjects.event("36", "enrolment", "employer_registered").startswith(wildcard)
    assert not subjects.event("44", "enrolment", "employer_registered").startswith(wildcard)
    assert not subjects.command("36", "enrolment", "register_employer").startswith(wildcard)


def test_a_custom_root_changes_every_subject_and_stream() -> None:
    default, isolated = Subjects(), Subjects(root="t_3f2a")
    built: dict[str, Callable[[Subjects], str]] = {
        "command": (lambda s: s.command("36", "enrolment", "register_employer")),
        "query": (lambda s: s.query("36", "enrolment", "get_employer")),
        "event": (lambda s: s.event("36", "enrolment", "employer_registered")),
        "events_of": (lambda s: s.events_of("36", "enrolment")),
        "traces": (lambda s: s.traces("abc")),
        "calendar": (lambda s: s.calendar()),
    }

    for name, make in built.items():
        assert make(isolated) == "t_3f2a" + make(default).removeprefix("yiwang"), name
    assert isolated.events_stream("36", "enrolment") == "T_3F2A_ENROLMENT_36"
    assert isolated.traces_stream() == "T_3F2A_TRACES"


def test_subjects_are_values() -> None:
    assert Subjects() == Subjects(root="yiwang")
    assert Subjects(root="a") != Subjects(root="b")
    assert len({Subjects(), Subjects(root="yiwang")}) == 1


def test_times_in_any_zone_survive_the_round_trip_as_the_same_instant() -> None:
    utc = NOW.astimezone(UTC)
    decoded = codec.decode(codec.encode(build(time=utc)), RegisterEmployer)

    assert decoded.time == NOW
    assert decoded.time.utcoffset() == timedelta(0)
