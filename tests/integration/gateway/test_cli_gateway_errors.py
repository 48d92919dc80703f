"""The operators' commands that go through the gateway (`transfer`, `simulate`) when it is not where
they look, refuses them, or when the year cannot be planned: one plain line and an exit status, not a
traceback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from gateway.app import make_app
from gateway.cli import app
from gateway.config import GatewaySettings
from runtime.embedded import free_port
from tests.cli import yiwang
from tests.conftest import Servers
from tests.waiting import eventually

SMALL = Path(__file__).parents[3] / "docs" / "scenarios" / "nanchang-2021-small.json"


@pytest.mark.parametrize("command", [["transfer", "some-case"], ["simulate", str(SMALL)]])
def test_a_command_says_where_it_looked_for_the_gateway(command: list[str]) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    result = CliRunner().invoke(app, [*command, "--gateway", nowhere])

    assert result.exit_code == 1
    assert f"gateway at {nowhere} not reachable (ConnectError): --gateway names it" in result.output
    assert "Traceback" not in result.output


def test_a_year_that_cannot_be_planned_is_said_before_anything_is_sent(tmp_path: Path) -> None:
    not_a_profile = tmp_path / "notes.json"
    not_a_profile.write_text('{"name": "Nanchang"}')
    nowhere = f"http://127.0.0.1:{free_port()}"  # not asked: the plan fails first

    zero = CliRunner().invoke(app, ["simulate", str(SMALL), "--scale", "0", "--gateway", nowhere])
    other = CliRunner().invoke(app, ["simulate", str(not_a_profile), "--gateway", nowhere])

    assert (zero.exit_code, other.exit_code) == (2, 2)
    assert "cannot plan the year: the scale must be positive" in zero.output
    assert f"cannot plan the year: {not_a_profile} is not a city's profile: KeyError: 'services'" in other.output
    assert "Traceback" not in zero.output + other.output


async def test_a_simulation_the_gateway_refuses_stops_with_the_gateways_reason(
    servers: Servers, subject_root: str
) -> None:
    """The operator's secret is not the gateway's: every call is refused, so the first figure the run
    reads (the online share before it) cannot be read, and the simulation stops saying why."""
    app = make_app(GatewaySettings(nats_url=servers.nats_url, subject_root=subject_root), install_tracing=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    try:
        await eventually(started)
        ran = await yiwang(
            "simulate", str(SMALL), "--gateway", f"http://127.0.0.1:{port}",
            jwt_secret="not-the-gateways-secret-but-32-bytes-long",
        )  # fmt: skip
    finally:
        server.should_exit = True
        await serving

    assert ran.status == 1
    assert ran.err.startswith("simulation stopped: GET /statistics/online-share in 36: "), ran.err
    assert '"status":401' in ran.err
    assert "Traceback" not in ran.err
