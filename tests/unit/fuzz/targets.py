"""Coverage-guided fuzz targets (atheris/libFuzzer) for the parsers that meet untrusted input first.

Run one: `python -m tests.unit.fuzz.targets NAME [libFuzzer flags] [corpus dirs]`, e.g.
`python -m tests.unit.fuzz.targets envelope -runs=20000 -seed=1`. `atheris.Fuzz()` never returns
(it exits the process), hence a process per target. A target may raise only the errors its code
documents (IdentifierError, SignatureError, pydantic's ValidationError); anything else, or a broken
property (a verified signature that is not ours, an envelope that does not survive its own
encoding), is a crash: libFuzzer prints the input and exits non-zero.

Directories among the arguments are libFuzzer's corpus: the first is filled with well-formed inputs
(`seeds(name)`) before fuzzing, so mutations begin inside each grammar.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import UUID

import atheris

with atheris.instrument_imports(include=["contracts"]):
    from pydantic import BaseModel, ValidationError

    from contracts import codec
    from contracts.arrears.commands import ReceiveComplaint
    from contracts.enrolment.commands import EnrolEmployee, RegisterEmployer
    from contracts.envelope import Actor, ActorKind, Channel, envelope_for
    from contracts.identifiers import (
        IdentifierError,
        check_citizen_id,
        check_credit_code,
        check_division_code,
        citizen_id_birth_date,
        citizen_id_check_character,
        credit_code_check_character,
        credit_code_check_character_ok,
        mask_citizen_id,
        upgrade_legacy_citizen_id,
    )
    from contracts.injury.commands import PostSettlement
    from contracts.queries import HandledServices
    from contracts.signing import SignatureError, sign, verify

NOW = datetime(2026, 4, 9, 8, 0, tzinfo=UTC)
KEYS = (b"h36001-key-2026-new-0123456789", b"h36001-key-2025-old-0123456789")
CITIZEN = "36010219850612201" + citizen_id_check_character("36010219850612201")
CREDIT = "91360102MA35L0XC0" + credit_code_check_character("91360102MA35L0XC0")


def _text(data: bytes) -> str:
    """Bytes as text, one character per byte (so seeds stay readable and mutations stay local),
    with a second reading as UTF-8 when the first byte says so (to reach non-Latin characters)."""
    if data[:1] == b"\xff":
        return data[1:].decode("utf-8", "replace")
    return data.decode("latin-1")


def citizen_id(data: bytes) -> None:
    value = _text(data)
    try:
        normalised = check_citizen_id(value)
    except IdentifierError:
        pass
    else:
        assert len(normalised) == 18 and normalised == value.upper(), value
        assert check_citizen_id(normalised) == normalised
        citizen_id_birth_date(normalised)
    masked = mask_citizen_id(value)
    assert len(masked) == len(value) and (len(value) < 15 or masked[6:-2] == "*" * (len(value) - 8))
    try:
        upgraded = upgrade_legacy_citizen_id(value)
    except IdentifierError:
        pass
    else:
        assert check_citizen_id(upgraded) == upgraded


def credit_code(data: bytes) -> None:
    value = _text(data)
    strict = loose = None
    with contextlib.suppress(IdentifierError):
        strict = check_credit_code(value)
    try:
        loose = check_credit_code(value, verify_check_character=False)
    except IdentifierError:
        assert strict is None  # anything the strict check accepts, the loose one does too
    if loose is not None:
        assert credit_code_check_character_ok(loose) == (strict is not None)
    with contextlib.suppress(IdentifierError):
        check_division_code(value)


def signature(data: bytes) -> None:
    """Headers and body as they arrive: method, path, timestamp, message id, signature, then body."""
    method, path, timestamp, message_id, given, body = (data.split(b"\n", 5) + [b""] * 6)[:6]
    fields = [_text(f) for f in (method, path, timestamp, message_id, given)]
    missing = fields[2:5]
    try:
        verified = verify(
            method=fields[0],
            path=fields[1],
            body=body,
            timestamp=None if missing[0] == "-" else missing[0],
            message_id=None if missing[1] == "-" else missing[1],
            signature=None if missing[2] == "-" else missing[2],
            keys=KEYS,
            now=NOW,
        )
    except SignatureError:
        return
    # Accepted: then it really is one of our keys over exactly this content, within the window.
    expected = sign(
        KEYS[verified.key_index],
        timestamp=int(missing[0]),
        message_id=missing[1],
        method=fields[0],
        path=fields[1],
        body=body,
    )
    assert expected == missing[2].lower(), (expected, missing[2])
    assert abs((verified.signed_at - NOW).total_seconds()) <= 300


MODELS: tuple[type[BaseModel], ...] = (
    RegisterEmployer,
    EnrolEmployee,
    ReceiveComplaint,
    PostSettlement,
    HandledServices,
)


def envelope(data: bytes) -> None:
    """An envelope off the bus (first byte picks the data model): decoded, or refused with ValidationError."""
    if not data:
        return
    model = MODELS[data[0] % len(MODELS)]
    try:
        decoded = codec.decode(data[1:], model)
    except ValidationError:
        return
    again = codec.decode(codec.encode(decoded), model)
    assert again == decoded, (again, decoded)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "citizen_id": citizen_id,
    "credit_code": credit_code,
    "signature": signature,
    "envelope": envelope,
}


def _signed(method: str, path: str, body: bytes, *, key: bytes = KEYS[0], mid: str = "m-0001") -> bytes:
    stamp = int(NOW.timestamp())
    given = sign(key, timestamp=stamp, message_id=mid, method=method, path=path, body=body)
    return f"{method}\n{path}\n{stamp}\n{mid}\n{given}\n".encode() + body


def _envelope(model_index: int, data: BaseModel, message: str) -> bytes:
    actor = Actor(kind=ActorKind.OPERATOR, id="op-0042", region="36")
    built = envelope_for(
        data,
        service="enrolment",
        message=message,
        region="36",
        actor=actor,
        channel=Channel.COUNTER,
        time=NOW,
        correlationid=UUID("7d444840-9dc0-11d1-b245-5ffdce74fad2"),
        fingerprint="a" * 64,
    )
    return bytes([model_index]) + codec.encode(built)


def seeds(name: str) -> list[bytes]:
    """Well-formed inputs for each target."""
    if name == "citizen_id":
        return [CITIZEN.encode(), CITIZEN[:-1].encode() + b"x", b"360102850612201", b"11010519491231002X"]
    if name == "credit_code":
        return [CREDIT.encode(), CREDIT.lower().encode(), b"91100000MA00000000", b"360102"]
    if name == "signature":
        return [
            _signed("POST", "/v1/regions/36/injury/hospitals/H36001/settlements", b'{"lines":[]}'),
            _signed("GET", "/v1/x?a=1", b"", key=KEYS[1]),
            b"POST\n/\n-\nm\nab\n",
        ]
    if name == "envelope":
        register = RegisterEmployer(
            credit_code=CREDIT,
            name="南昌示例科技有限公司",
            division_code="360102",
            industry_code="I65",
            established_on=date(2024, 11, 1),
        )
        enrol = EnrolEmployee(
            citizen_id=CITIZEN,
            employer_credit_code=CREDIT,
            hired_on=date(2026, 1, 1),
            declared_monthly_wage_fen=800_000,
        )
        handled = HandledServices(first=date(2026, 1, 1), last=date(2026, 3, 31))
        return [
            _envelope(0, register, "register_employer"),
            _envelope(1, enrol, "enrol_employee"),
            _envelope(4, handled, "handled_services"),
        ]
    raise KeyError(name)


def main() -> None:
    name, *flags = sys.argv[1:]
    target = TARGETS[name]
    corpus = [Path(f) for f in flags if not f.startswith("-")]
    if corpus:
        corpus[0].mkdir(parents=True, exist_ok=True)
        for i, seed in enumerate(seeds(name)):
            (corpus[0] / f"seed-{i}").write_bytes(seed)
    atheris.Setup([sys.argv[0], *flags], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
