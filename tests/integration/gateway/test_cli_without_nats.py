"""The operators' command line when the stack's NATS is not where it looks: one plain line and exit
status 1, naming the address it tried and the setting to fix, not a traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from runtime.embedded import free_port


@pytest.mark.parametrize("command", [["dead-letters"], ["trace", "0" * 32], ["rebuild", "enrolment"]])
def test_a_command_says_where_it_looked_for_nats(command: list[str]) -> None:
    nowhere = f"nats://127.0.0.1:{free_port()}"  # nothing listens there

    result = CliRunner().invoke(app, command, env={"YIWANG_NATS_URL": nowhere})

    assert result.exit_code == 1
    assert f"NATS at {nowhere} not reachable within 5s" in result.output
    assert "YIWANG_NATS_URL" in result.output
    assert "Traceback" not in result.output
