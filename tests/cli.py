"""The operators' command line run as they run it: a process of its own (`python -m gateway.cli`) with
its settings in the environment. Awaited, so a stack the test's own loop serves keeps answering it."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass

WITHIN_SECONDS = 120.0  # a hung command fails the test instead of holding the suite


@dataclass(frozen=True)
class Ran:
    status: int
    out: str
    err: str


def clean_env() -> dict[str, str]:
    """This process's environment without any `YIWANG_` setting (each test names those it means)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("YIWANG_")}


async def yiwang(*args: str, **settings: str) -> Ran:
    """`yiwang ARGS` with `YIWANG_<NAME>` = value for each keyword (`jwt_secret=...`), no other YIWANG_ setting."""
    env = clean_env() | {f"YIWANG_{name.upper()}": value for name, value in settings.items()}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), WITHIN_SECONDS)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())
