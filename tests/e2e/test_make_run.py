"""`make run`'s launcher: the whole stack from the wheels, Ctrl-C stops all of it, data is kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from gateway.auth import issue_token
from runtime.embedded import free_port

POLL_SECONDS = 0.2

EMPLOYER = {
    "credit_code": "91512081MA62K0260E",
    "name": "Foshan Ceramics",
    "division_code": "360111",
    "industry_code": "C3071",
    "established_on": "2026-02-02",
}


def start(data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIWANG_")}
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "up", "--data", str(data), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_until(check: object, within: float) -> object:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            result = check()  # type: ignore[operator]
        except httpx.HTTPError:
            result = None
        if result:
            return result
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"not met within {within}s")


def descendants_using(data: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            text = " ".join(proc.info["cmdline"] or [])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if str(data) in text:
            found.append(proc)
    return found


def stop(launcher: subprocess.Popen[bytes]) -> str:
    launcher.send_signal(signal.SIGINT)
    out, _ = launcher.communicate(timeout=90)
    return out.decode(errors="replace")


def test_the_stack_starts_serves_stops_cleanly_and_keeps_its_data(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    token = {
        "Authorization": "Bearer "
        + issue_token("yiwang-development-secret-change-me-32bytes", kind="operator", subject="t", region="36")
    }

    launcher = start(data, port)
    try:
        wait_until(lambda: httpx.get(f"{base}/health/ready").status_code == 200, 90)
        created = wait_until(
            lambda: (
                (r := httpx.post(f"{base}/v1/regions/36/employers", json=EMPLOYER, headers=token)).status_code == 201
                and r
            ),
            60,
        )
        docs = httpx.get(f"{base}/docs")
    finally:
        output = stop(launcher)

    assert created
    assert docs.status_code == 200
    assert "API docs" in output and "stopped." in output
    assert wait_until(lambda: not descendants_using(data), 30)
    for log in (data / "logs").glob("*-36.log"):
        assert "service ready" in log.read_text()

    again = start(data, port)
    try:
        wait_until(lambda: httpx.get(f"{base}/health/ready").status_code == 200, 90)
        found = wait_until(
            lambda: (
                (r := httpx.get(f"{base}/v1/regions/36/employers/{EMPLOYER['credit_code']}", headers=token)).status_code
                == 200
                and r
            ),
            60,
        )
    finally:
        stop(again)

    assert found.json()["name"] == "Foshan Ceramics"  # type: ignore[attr-defined]
    assert wait_until(lambda: not descendants_using(data), 30)
