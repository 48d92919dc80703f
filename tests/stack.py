"""An in-process stack for end-to-end tests: real NATS and PostgreSQL, real services, real gateway.

Services run with `runtime.host.start_service` (the same code as `python -m <service>`), the
gateway through its ASGI app with its lifespan; tests speak HTTP to the gateway only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts.subjects import SERVICES
from gateway.app import make_app
from gateway.auth import issue_token
from gateway.config import GatewaySettings
from runtime.clock import FixedClock
from runtime.host import RunningService, start_service
from runtime.settings import RuntimeSettings
from tests.conftest import Servers, create_database

_EXPORTER = InMemorySpanExporter()


def span_exporter() -> InMemorySpanExporter:
    """One tracer provider per test session (OpenTelemetry allows setting it once)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
    return _EXPORTER


def builders() -> dict[str, Any]:
    from arrears.bootstrap import build as arrears
    from enrolment.bootstrap import build as enrolment
    from injury.bootstrap import build as injury
    from transfer.bootstrap import build as transfer

    return {"enrolment": enrolment, "transfer": transfer, "arrears": arrears, "injury": injury}


@dataclass
class Stack:
    client: httpx.AsyncClient
    settings: GatewaySettings
    services: dict[tuple[str, str], RunningService]
    clock: FixedClock
    spans: InMemorySpanExporter = field(default_factory=span_exporter)
    service_settings: dict[tuple[str, str], RuntimeSettings] = field(default_factory=dict)
    _exits: dict[tuple[str, str], contextlib.AsyncExitStack] = field(default_factory=dict)

    async def stop(self, service: str, region: str) -> None:
        """Stop one service of one region as a shutdown would: its database and streams stay."""
        await self._exits.pop((service, region)).aclose()
        del self.services[(service, region)]

    async def start(self, service: str, region: str) -> RunningService:
        """Start a stopped service again on the same database (a restart or the end of an outage)."""
        exits = contextlib.AsyncExitStack()
        key = (service, region)
        self.services[key] = await start_service(
            self.service_settings[key], service, builders()[service], exits, clock=self.clock
        )
        self._exits[key] = exits
        return self.services[key]

    async def close(self) -> None:
        for exits in reversed(list(self._exits.values())):
            await exits.aclose()
        self._exits.clear()

    def token(self, kind: str = "operator", subject: str = "ops-1", region: str | None = "36") -> dict[str, str]:
        return {
            "Authorization": "Bearer "
            + issue_token(self.settings.jwt_secret, kind=kind, subject=subject, region=region)
        }


async def service_settings_for(servers: Servers, region: str, root: str, **overrides: Any) -> RuntimeSettings:
    """A service's settings in `region` on the test servers, with a database of its own."""
    return RuntimeSettings(
        region=region,
        nats_url=servers.nats_url,
        nats_monitor_url=servers.nats_monitor_url,
        database_url=await create_database(servers.postgres_admin_url),
        subject_root=root,
        require_sync_always=servers.nats_monitor_url is not None,
        pool_size=4,
        **overrides,
    )


@contextlib.asynccontextmanager
async def running_stack(
    servers: Servers,
    root: str,
    *,
    regions: tuple[str, ...] = ("36", "44"),
    services: tuple[str, ...] = SERVICES,
    jetstream_replicas: int = 1,
    **gateway_settings: Any,
) -> AsyncIterator[Stack]:
    exporter = span_exporter()
    clock = FixedClock()
    service_settings: dict[tuple[str, str], RuntimeSettings] = {}
    for region in regions:
        for service in services:
            service_settings[(service, region)] = await service_settings_for(
                servers, region, root, jetstream_replicas=jetstream_replicas
            )
    settings = GatewaySettings(
        nats_url=servers.nats_url,
        subject_root=root,
        regions=regions,
        jetstream_replicas=jetstream_replicas,
        **({"request_timeout_seconds": 5.0} | gateway_settings),
    )
    app = make_app(settings, install_tracing=False)
    async with contextlib.AsyncExitStack() as stack:
        handle = Stack(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway"),
            settings,
            {},
            clock,
            exporter,
            service_settings,
        )
        stack.push_async_callback(handle.close)
        for key in service_settings:
            await handle.start(*key)
        await stack.enter_async_context(app.router.lifespan_context(app))
        await stack.enter_async_context(handle.client)
        yield handle


@contextlib.asynccontextmanager
async def served_over_http(stack: Stack) -> AsyncIterator[str]:
    """The stack's gateway app served on a loopback port (its lifespan already runs), for a browser
    or an external tool; yields the base URL."""
    import uvicorn

    from runtime.embedded import free_port
    from tests.waiting import eventually

    port = free_port()
    app = stack.client._transport.app  # type: ignore[attr-defined]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    serving = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await eventually(started)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
