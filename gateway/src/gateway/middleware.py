"""ASGI middleware: one SERVER span per request, `X-Trace-Id` on the answer, body size limit."""

from __future__ import annotations

from typing import Any

import orjson
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.tracing import extract, tracer


class TracingMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await _too_large(send, self.max_body_bytes, scope["path"])
            return
        route = scope["path"]
        with tracer("gateway").start_as_current_span(
            f"{scope['method']} {route}",
            context=extract(headers),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": scope["method"], "url.path": route},
        ) as span:
            trace_id = f"{span.get_span_context().trace_id:032x}"
            status_code = 500

            async def send_with_trace(message: Message) -> None:
                nonlocal status_code
                if message["type"] == "http.response.start":
                    status_code = message["status"]
                    message["headers"] = [*message.get("headers", []), (b"x-trace-id", trace_id.encode())]
                await send(message)

            await self.app(scope, receive, send_with_trace)
            span.set_attribute("http.response.status_code", status_code)
            if status_code >= 500:
                span.set_status(Status(StatusCode.ERROR))


async def _too_large(send: Send, limit: int, path: str) -> None:
    body: dict[str, Any] = {
        "type": "https://yiwang.example/problems/payload-too-large",
        "title": "Payload too large",
        "status": 413,
        "detail": f"request bodies are limited to {limit} bytes",
        "instance": path,
    }
    raw = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/problem+json"), (b"content-length", str(len(raw)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": raw})
