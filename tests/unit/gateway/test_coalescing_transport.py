"""The gateway's transport for uvicorn: writes of one loop turn sent as one, nothing lost or reordered."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.serving import MOST_WAITING_BYTES, CoalescingTransport


class RecordingTransport:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closing = False
        self.closed_after: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self.closing:
            raise AssertionError("written after close")
        self.sent.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True
        self.closed_after = list(self.sent)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 8000) if name == "sockname" else default


async def _next_turn() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_writes_of_one_turn_leave_as_one_send_in_their_order() -> None:
    inner = RecordingTransport()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]

    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    transport.write(bytearray(b"{}"))
    assert inner.sent == []
    await _next_turn()

    assert inner.sent == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]


async def test_writes_of_later_turns_leave_in_sends_of_their_own() -> None:
    inner = RecordingTransport()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]

    transport.writelines([b"a", b"b"])
    await _next_turn()
    transport.write(memoryview(b"c"))
    await _next_turn()

    assert inner.sent == [b"ab", b"c"]


async def test_closing_sends_what_waits_first_and_a_gone_peer_is_sent_nothing() -> None:
    inner = RecordingTransport()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]

    transport.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    transport.close()
    assert inner.closed_after == [b"HTTP/1.1 400 Bad Request\r\n\r\n"]

    transport.write(b"late")  # uvicorn checks is_closing before most writes, not all
    await _next_turn()
    assert inner.sent == [b"HTTP/1.1 400 Bad Request\r\n\r\n"]


async def test_everything_else_is_the_wrapped_transports() -> None:
    inner = RecordingTransport()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]

    assert transport.get_extra_info("sockname") == ("127.0.0.1", 8000)
    assert transport.is_closing() is False


async def test_a_large_body_is_sent_once_enough_waits_not_held_to_the_end_of_the_turn() -> None:
    inner = RecordingTransport()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
    head, part = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", b"x" * (MOST_WAITING_BYTES // 2)

    transport.write(head)
    transport.write(part)
    assert inner.sent == []
    transport.write(part)
    assert inner.sent == [head + part + part]  # at once: uvicorn's flow control sees the socket fill
    transport.write(b"0\r\n\r\n")
    await _next_turn()

    assert inner.sent == [head + part + part, b"0\r\n\r\n"]
