"""The operators' command line refuses what cannot work before it signs, connects or publishes: one
plain message and exit status 2 (a usage error), never a token the gateway would refuse, a trace
subject with a wildcard in it, or half a calendar."""

from __future__ import annotations

import asyncio
from pathlib import Path

import jwt
import pytest
from typer.testing import CliRunner

from gateway.auth import AUDIENCE
from gateway.cli import app
from runtime.traces import read_trace

SECRET = "a-test-secret-of-at-least-32-bytes-long"
NOWHERE = {"YIWANG_NATS_URL": "nats://127.0.0.1:9", "YIWANG_JWT_SECRET": SECRET}  # never reached
CITIZEN = "36010219900307123" + "6"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=NOWHERE)
    return result.exit_code, " ".join(result.output.replace("│", " ").split())  # the error box's lines joined


def claims(token: str) -> dict[str, object]:
    return dict(jwt.decode(token.strip(), SECRET, algorithms=["HS256"], audience=AUDIENCE))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["token", "wizard", "x"], "'wizard' is not one of 'citizen', 'employer', 'operator', 'hospital', 'system'"),
        (["token", "operator", "ops-1"], "an operator's or a feed's token names its region: --region 36"),
        (["token", "system", "feed"], "an operator's or a feed's token names its region"),
        (["token", "citizen", "-"], "a citizen's token carries a valid ID number: citizen ID number must have 18"),
        (["token", "citizen", "-", "--citizen-id", CITIZEN[:-1] + "0"], "check character is '0', expected '6'"),
        (["trace", "not-a-trace"], "32 hexadecimal digits, as in a response's X-Trace-Id"),
        (["trace", ">"], "32 hexadecimal digits"),
        (["audit", "--last", "0"], "Invalid value for '--last'"),
        (["alerts", "--last", "-5"], "Invalid value for '--last'"),
    ],
)
def test_what_cannot_work_is_refused_before_anything_is_done(args: list[str], says: str) -> None:
    status, output = run(*args)

    assert status == 2
    assert says in output
    assert "NATS" not in output  # refused before connecting


def test_tokens_carry_what_the_gateway_reads() -> None:
    operator = run("token", "operator", "ops-1", "--region", "36")
    citizen = run("token", "citizen", "-", "--citizen-id", CITIZEN)

    assert operator[0] == citizen[0] == 0
    assert {k: claims(operator[1])[k] for k in ("kind", "sub", "region")} == {
        "kind": "operator",
        "sub": "ops-1",
        "region": "36",
    }
    assert (claims(citizen[1])["kind"], claims(citizen[1])["cid"]) == ("citizen", CITIZEN)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"year": 2027}', "need ['holidays', 'source', 'workdays', 'year'], got ['year']"),
        ('[{"year": 2027}]', "a JSON object is needed, not list"),
        (
            '{"year": 2027, "holidays": ["2027-02-30"], "workdays": [], "source": "x"}',
            "holidays: '2027-02-30' is not a valid date",
        ),
        ("year: 2027", "not loaded: unexpected character"),
    ],
)
def test_a_calendar_that_cannot_be_trusted_is_not_published(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "2027.json"
    path.write_text(text)

    status, output = run("load-calendar", str(path))

    assert status == 2
    assert output.startswith(f"{path}: not loaded: ")
    assert says in output
    assert "NATS" not in output  # nothing was sent


def test_a_wildcard_is_not_read_as_a_trace() -> None:
    for text in (">", "*", "0" * 31 + ".", "A" * 32):
        with pytest.raises(ValueError, match="not a trace id"):
            asyncio.run(read_trace(None, "yiwang", text))  # type: ignore[arg-type]  # refused before any read
