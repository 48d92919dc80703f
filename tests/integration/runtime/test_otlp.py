"""With OTEL_EXPORTER_OTLP_ENDPOINT set, spans leave over OTLP/HTTP (what a collector or Jaeger takes)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from runtime.tracing import tracer_provider


class Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Collector.received.append((self.path, self.headers.get("Content-Type", ""), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture
def collector() -> Iterator[str]:
    Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_spans_are_exported_over_otlp_http_with_the_service_name(collector: str) -> None:
    provider = tracer_provider("transfer", region="36", otlp_endpoint=collector)
    with provider.get_tracer("test").start_as_current_span("process yiwang.36.transfer.in.contact_letter.v1"):
        pass
    assert provider.force_flush(timeout_millis=10_000)
    provider.shutdown()

    assert Collector.received, "no export reached the collector"
    path, content_type, body = Collector.received[0]
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    assert b"process yiwang.36.transfer.in.contact_letter.v1" in body
    assert b"transfer" in body and b"yiwang.region" in body
