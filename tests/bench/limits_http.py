"""Raw HTTP limit: a bare FastAPI POST with a pydantic body, uvicorn in its own process, under load."""

from __future__ import annotations

from runtime.embedded import free_port
from tests.bench import cpu
from tests.bench.common import Figure, say, whole_seconds
from tests.bench.loadgen import Load, settle
from tests.bench.procs import Children, wait_http

CONNECTIONS = 64


async def measure(children: Children, load: Load) -> list[Figure]:
    port = free_port()
    server = children.start_python(
        [
            "uvicorn",
            "tests.bench.bare_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        name="bare-fastapi",
    )
    try:
        await wait_http(f"http://127.0.0.1:{port}/openapi.json", process=server)
        url = f"http://127.0.0.1:{port}/v1/regions/36/employers"
        say(f"raw: bare FastAPI POST (uvicorn, 1 process), {CONNECTIONS} connections, {load.tool}")
        await load.run(url, connections=CONNECTIONS, seconds=1)
        await settle()
        before = cpu.snapshot({"uvicorn": server.pid})
        result = await load.run(url, connections=CONNECTIONS, seconds=whole_seconds(5))
        uvicorn = cpu.snapshot({"uvicorn": server.pid})
        result.cpu_us, result.cpu_system_us = cpu.per_operation_us(before, uvicorn, result.ok)
    finally:
        children.stop(server)
    if result.other or result.errors:
        say(f"  bare FastAPI: {result.other} non-201, {result.errors} socket errors; first: {result.sample_other}")
    return [
        Figure(
            "limit.fastapi",
            f"raw: bare FastAPI POST, {CONNECTIONS} conns",
            result.rate,
            "req/s",
            "limit",
            p50_ms=result.p50_ms,
            p99_ms=result.p99_ms,
            notes=f"uvicorn+uvloop+httptools, pydantic body, 201; {load.tool}",
            extra=result.as_run(),
        )
    ]
