"""A TCP link the tests can cut: a loopback proxy in front of a port (what Toxiproxy does, in process).

`cut()` closes every connection through it and refuses new ones until `restore()`; both sides then
see a dead peer, as with a pulled cable or a firewall between two regions.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from runtime.embedded import free_port


@dataclass
class Link:
    target_port: int
    port: int = field(default_factory=free_port)
    cuts: int = 0
    _open: bool = True
    _server: asyncio.Server | None = None
    _pipes: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> Link:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._open:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._pipes |= {writer, up_writer}
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while self._open and (chunk := await reader.read(65536)):
                writer.write(chunk)
                await writer.drain()
        self._drop(writer)

    def _drop(self, writer: asyncio.StreamWriter) -> None:
        self._pipes.discard(writer)
        with contextlib.suppress(Exception):
            writer.close()

    def cut(self) -> None:
        self._open = False
        self.cuts += 1
        for writer in list(self._pipes):
            self._drop(writer)

    def restore(self) -> None:
        self._open = True

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
