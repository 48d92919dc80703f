"""`python -m tests.bench.responder URL SUBJECT`: a bare NATS responder in its own process."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import nats

REPLY = b'{"ok":true,"result":{"employer_id":"employer-91360102MA35XXXXXX"}}'


async def main(url: str, subject: str) -> None:
    nc = await nats.connect(url, name="bench-responder", pending_size=64 * 1024 * 1024)

    async def answer(msg: Any) -> None:
        await msg.respond(REPLY)

    await nc.subscribe(subject, queue="bench-responders", cb=answer)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await nc.drain()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
