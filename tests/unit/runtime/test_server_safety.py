"""The NATS server a service refuses to start on, from its monitoring endpoint's `/varz`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from runtime.messaging import UnsafeConfigurationError, takes_atomic_batches, verify_server_safety


@pytest.fixture
def monitor() -> Iterator[tuple[str, dict[str, Any]]]:
    """A monitoring endpoint on loopback answering `/varz` with the dict the test fills."""
    varz: dict[str, Any] = {}

    class Varz(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(varz).encode()
            self.send_response(200 if self.path == "/varz" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Varz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", varz
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_before_2_12_is_refused_since_it_takes_no_atomic_batches(
    monitor: tuple[str, dict[str, Any]],
) -> None:
    url, varz = monitor
    varz.update(version="2.11.9", jetstream={"config": {"sync_always": True}})

    with pytest.raises(UnsafeConfigurationError, match=r"nats-server 2\.11\.9: 2\.12 or later"):
        verify_server_safety(url, require_sync_always=True, replicas=1)

    varz["version"] = "2.12.0"
    verify_server_safety(url, require_sync_always=True, replicas=1)


@pytest.mark.parametrize(
    ("version", "takes"),
    [
        ("2.15.1", True),
        ("2.12.0", True),
        ("2.12.0-RC.1", True),
        ("3.0.0", True),
        ("2.11.9", False),
        ("2.9.10", False),
        ("1.40.0", False),
        ("unknown", False),
        ("", False),
    ],
)
def test_atomic_batches_from_2_12(version: str, takes: bool) -> None:
    assert takes_atomic_batches(version) is takes
