"""Schemathesis over the gateway's whole OpenAPI document, against the real stack: no 5xx, and no
response that breaks its own schema (issues 5 and 9)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import Servers
from tests.stack import Stack, running_stack, served_over_http

EXAMPLES = os.environ.get("YIWANG_SCHEMATHESIS_EXAMPLES", "15")


@pytest.fixture
async def stack(servers: Servers, subject_root: str) -> AsyncIterator[Stack]:
    async with running_stack(
        servers, subject_root, regions=("36", "44"), rate_limit_per_second=1e6, rate_limit_burst=10**6
    ) as s:
        yield s


@pytest.fixture
async def gateway_url(stack: Stack) -> AsyncIterator[str]:
    async with served_over_http(stack) as url:
        yield url


async def test_the_whole_api_gives_no_5xx_and_keeps_to_its_schema(
    stack: Stack, gateway_url: str, tmp_path: Path
) -> None:
    schemathesis = Path(sys.executable).with_name("schemathesis")
    process = await asyncio.create_subprocess_exec(
        str(schemathesis),
        "run",
        f"{gateway_url}/openapi.json",
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        "--max-examples",
        EXAMPLES,
        "--seed",
        "20261203",
        "--header",
        f"Authorization: {stack.token()['Authorization']}",
        "--report-dir",
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1"},
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    shown = text if len(text) < 14_000 else text[:10_000] + "\n[...]\n" + text[-4_000:]  # failures come first
    print(shown)
    assert process.returncode == 0, shown
