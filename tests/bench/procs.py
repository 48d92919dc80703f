"""Every child process the bench starts, so that all of them stop however the bench ends."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg
import nats
import orjson
from nats.js.api import StorageType

from runtime.embedded import wait_for_port
from tests.bench.common import REPO, say

POLL_SECONDS = 0.1


class Children:
    """Popen objects started in their own session; `stop_all` ends each process group."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[subprocess.Popen[bytes]] = []
        self.log_files: list[Path] = []

    def start(
        self,
        args: Sequence[str],
        *,
        name: str,
        env: Mapping[str, str] | None = None,
        capture: bool = False,
    ) -> subprocess.Popen[bytes]:
        log = self.logs / f"{name}.log"
        self.log_files.append(log)
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        with log.open("ab") as sink:
            process = subprocess.Popen(
                list(args),
                cwd=REPO,
                env=full_env,
                stdout=subprocess.PIPE if capture else sink,
                stderr=sink,
                start_new_session=True,
            )
        self.running.append(process)
        return process

    def start_python(
        self, module_args: Sequence[str], *, name: str, env: Mapping[str, str] | None = None, capture: bool = False
    ) -> subprocess.Popen[bytes]:
        return self.start([sys.executable, "-m", *module_args], name=name, env=env, capture=capture)

    def stop(self, process: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
        """SIGTERM to the process group, then SIGKILL if it lingers."""
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # anything the child left in its group
        if process.stdout is not None:
            process.stdout.close()
        if process in self.running:
            self.running.remove(process)

    def stop_all(self) -> None:
        for process in list(reversed(self.running)):
            self.stop(process, timeout=5.0)

    def tail_logs(self, lines: int = 15) -> None:
        for log in self.log_files:
            if log.exists():
                text = log.read_text(errors="replace").splitlines()[-lines:]
                if text:
                    say(f"--- last lines of {log.name} ---")
                    for line in text:
                        print(f"    {line}", file=sys.stderr)


async def run_tool(children: Children, args: Sequence[str], *, name: str, timeout: float) -> str:
    """Run a command to completion (e.g. wrk) and return its stdout; it is killed on cancel."""
    process = children.start(args, name=name, capture=True)
    try:
        assert process.stdout is not None
        stream = process.stdout
        out = await asyncio.wait_for(asyncio.to_thread(stream.read), timeout)
        await asyncio.to_thread(process.wait)
        return out.decode(errors="replace")
    finally:
        children.stop(process)


async def wait_http(url: str, *, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Until `url` answers 200 (or the process dies)."""
    deadline = time.monotonic() + timeout
    port = int(url.split(":")[2].split("/")[0])
    await asyncio.to_thread(wait_for_port, port, timeout=timeout, process=process)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            if response.status == 200:
                return
        await asyncio.sleep(POLL_SECONDS)
    raise TimeoutError(f"{url} did not answer 200 within {timeout}s")


async def wait_service(
    nats_url: str, region: str, service: str, process: subprocess.Popen[bytes], timeout: float = 60.0
) -> None:
    """Until the service of `region` answers its health query over NATS (or its process dies)."""
    nc = await nats.connect(nats_url, name="bench-probe")
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the {service} service of {region} exited with {process.returncode} (see its log)")
            try:
                reply = await nc.request(f"yiwang.{region}.{service}.query.health", b"{}", timeout=1)
                if b'"ok":true' in reply.data:
                    return
            except (nats.errors.NoRespondersError, nats.errors.TimeoutError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {service} service of {region} did not become ready")
            await asyncio.sleep(POLL_SECONDS)
    finally:
        await nc.close()


class Published(NamedTuple):
    """Messages in the services' streams: the contracts' events, and the letters to another region's
    inbox (each consumed there by the inbox's consumer); and in every file stream (the audit's too),
    each stored with an fsync before its ack."""

    events: int
    inbox: int
    stored: int

    @property
    def total(self) -> int:
        return self.events + self.inbox

    def __sub__(self, before: Published) -> Published:
        return Published(self.events - before.events, self.inbox - before.inbox, self.stored - before.stored)


async def contract_messages(nats_url: str, *databases: str, timeout: float = 60.0) -> Published:
    """The messages in the services' event and inbox streams, and in every file stream, once the
    outboxes of `databases` are empty: what the runs so far published, counted by the streams, not
    by the time waited."""
    deadline = time.monotonic() + timeout
    for database in databases:
        conn = await asyncpg.connect(database)
        try:
            while await conn.fetchval("SELECT EXISTS (SELECT 1 FROM outbox)"):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the outbox of {database} did not empty within {timeout}s")
                await asyncio.sleep(POLL_SECONDS)
        finally:
            await conn.close()
    nc = await nats.connect(nats_url, name="bench-probe")
    try:
        streams = await nc.jetstream().streams_info()
    finally:
        await nc.close()

    def held(kind: str) -> int:
        return sum(s.state.messages for s in streams if any(kind in subject for subject in s.config.subjects or []))

    stored = sum(s.state.messages for s in streams if s.config.storage == StorageType.FILE)
    return Published(held(".evt."), held(".in."), stored)


class Traffic(NamedTuple):
    """Messages into and out of the NATS server so far (its /varz), every client's."""

    into: int
    out: int

    def __sub__(self, before: Traffic) -> Traffic:
        return Traffic(self.into - before.into, self.out - before.out)


def nats_traffic(monitor_url: str) -> Traffic:
    with urllib.request.urlopen(f"{monitor_url}/varz", timeout=5) as response:  # noqa: S310 - loopback
        varz = orjson.loads(response.read())
    return Traffic(int(varz["in_msgs"]), int(varz["out_msgs"]))


def pending(jsz: Mapping[str, Any]) -> dict[str, int]:
    """Each durable consumer's messages its stream holds beyond those it was given, in a
    `/jsz?consumers=true` answer: how far behind its stream it is. (Those given and not acknowledged
    yet are left out: a consumer asks ahead for up to two fetches, and applies one while it holds the
    next.)"""
    found: dict[str, int] = {}
    for account in jsz.get("account_details") or []:
        for stream in account.get("stream_detail") or []:
            for consumer in stream.get("consumer_detail") or []:
                found[consumer["name"]] = int(consumer.get("num_pending", 0))
    return found


class BacklogWatch:
    """The most messages each consumer was behind its stream over a run, read off NATS's `/jsz` every
    `every` seconds (in a thread: the bench's loop is the load generator). A consumer that falls
    behind its stream sets the rate by its own round trips while the cores may look merely busy: the
    transfers' inbox did so until the twenty-fifth session, up to 2,800 letters behind."""

    def __init__(self, monitor_url: str, every: float = 0.25) -> None:
        self.url, self.every = f"{monitor_url}/jsz?consumers=true", every
        self.peaks: dict[str, int] = {}
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _read(self) -> None:
        with urllib.request.urlopen(self.url, timeout=5) as response:  # noqa: S310 - loopback
            for name, count in pending(orjson.loads(response.read())).items():
                self.peaks[name] = max(count, self.peaks.get(name, 0))

    async def _watch(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                await asyncio.to_thread(self._read)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.every)

    async def __aenter__(self) -> BacklogWatch:
        self._task = asyncio.create_task(self._watch())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
