"""A bench worker's result line reaches the bench whole, even when a signal interrupts its write."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest

from tests.bench.common import REPO

# The worker's line is far above a pipe's 64 KiB, so its write blocks until the bench reads; once it
# is writing, a thread of the worker signals it, and says so on stderr. The bench reads stdout only then.
WORKER = """
import os, signal, sys, threading
import orjson
from tests.bench.common import write_result

signal.signal(signal.SIGUSR1, lambda *_: None)
writing = threading.Event()

def interrupt():
    writing.wait()
    for _ in range(200):  # a second of signals: the write has begun by then, however slow the machine
        os.kill(os.getpid(), signal.SIGUSR1)
        threading.Event().wait(0.005)
    sys.stderr.write("signalled\\n")
    sys.stderr.flush()

threading.Thread(target=interrupt).start()
lags = [round(i * 1.001, 3) for i in range(30_000)]
writing.set()
{write}
"""
FULL = len(orjson.dumps({"lags": [round(i * 1.001, 3) for i in range(30_000)]})) + 1


def _run(write: str) -> bytes:
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER.format(write=write)],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": REPO},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        assert process.stderr.readline() == b"signalled\n"  # the write was blocked all along
        out = process.stdout.read()
        process.wait(timeout=30)
    finally:
        process.kill()
    return out


def test_the_line_arrives_whole() -> None:
    out = _run('write_result({"lags": lags})')

    assert len(out) == FULL
    assert orjson.loads(out)["lags"][-1] == round(29_999 * 1.001, 3)


@pytest.mark.skipif(sys.platform != "linux", reason="the short write on a full pipe is Linux's")
def test_the_text_layers_single_write_loses_the_rest() -> None:
    """What `write_result` replaces, under the same signals: the line is cut at the pipe's size."""
    out = _run('sys.stdout.write(orjson.dumps({"lags": lags}).decode() + "\\n")')

    assert len(out) < FULL
