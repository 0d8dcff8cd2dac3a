"""Fixtures for test_operate: the gateway's routers on a real uvicorn, `runq flower` as a
subprocess, headless Chromium, and a recorder of every command the broker Redis receives."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import uvicorn

from devstack.local_stack import LocalStack
from tests.ports import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_BODY = re.compile(r'"body": "([A-Za-z0-9+/=]+)"')


def wait_http(url: str, timeout_s: float = 30.0) -> None:
    """Until `url` answers at all (any HTTP status counts)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1.0):
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s}s")


def http_status(url: str, auth: tuple[str, str] | None = None) -> int:
    """The status code of GET `url`, with basic auth when given."""
    request = urllib.request.Request(url)
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def http_text(url: str, auth: tuple[str, str]) -> str:
    """The body of GET `url` with basic auth."""
    request = urllib.request.Request(url)
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=10) as reply:
        return str(reply.read().decode())


@pytest.fixture(scope="module")
def gateway_url(fleet: LocalStack) -> Iterator[str]:
    """The gateway app (`runq serve`'s), with the dashboard and /metrics, on a real uvicorn
    in a thread."""
    from gateway.http.app import create_app

    app = create_app()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/metrics")
    yield url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def flower_url(fleet: LocalStack) -> Iterator[str]:
    """`runq flower` (the compose command) on the fleet's broker."""
    port = free_port()
    logs = worker_logs(fleet)
    before = events_switched_on(fleet.workdir, logs)
    runq = str(Path(sys.executable).parent / "runq")
    args = [runq, "flower", "--port", str(port)]
    args += ["--address", "127.0.0.1"]
    with (fleet.workdir / "flower.log").open("ab") as log_file:
        process = subprocess.Popen(args, env=fleet.env, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthcheck")
        _wait_for_events(fleet.workdir, logs, before)
        yield url
    finally:
        # A test Flower keeps nothing: no need to wait for its slow warm shutdown.
        process.kill()
        process.wait(timeout=15)


EVENTS_ON = "Events of group {task} enabled by remote"


def worker_logs(fleet: LocalStack) -> tuple[str, ...]:
    """The log file of each live fleet worker (named by its node; an earlier test may have
    replaced the first workers with others)."""
    names = []
    for process in fleet.workers:
        argv = [str(arg) for arg in process.args]  # type: ignore[union-attr]
        if process.poll() is None and "--hostname" in argv:
            names.append(argv[argv.index("--hostname") + 1].split("@")[0] + ".log")
    return tuple(names)


def events_switched_on(workdir: Path, logs: tuple[str, ...]) -> int:
    """How many times Flower's `enable_events` reached a fleet worker (from their logs)."""
    return sum((workdir / name).read_text(errors="replace").count(EVENTS_ON) for name in logs)


def _wait_for_events(
    workdir: Path, logs: tuple[str, ...], before: int, timeout_s: float = 30.0
) -> None:
    """Task events are off until Flower switches them on in every worker (every 5 s): wait
    until each worker said so, so Flower sees every task of the runs that follow."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if events_switched_on(workdir, logs) >= before + len(logs):
            return
        # An earlier module's Flower already switched them on in every worker, and a worker
        # says so only when they were off.
        if before and all(
            EVENTS_ON in (workdir / name).read_text(errors="replace") for name in logs
        ):
            return
        time.sleep(0.25)
    raise RuntimeError(f"Flower did not switch task events on within {timeout_s}s")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium driven by playwright (no browser download). Module scope:
    playwright's sync API holds an asyncio loop on this thread while it is open, which
    would stop later tests from calling asyncio.run()."""
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing and could not be installed (`make browser`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


class BrokerRecorder:
    """Every command the broker Redis receives (MONITOR), with message bodies decoded."""

    def __init__(self, redis_url: str) -> None:
        self._client = redis.Redis.from_url(redis_url)
        self.commands: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._record, daemon=True)

    def __enter__(self) -> BrokerRecorder:
        self._thread.start()
        time.sleep(0.2)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        # One last command wakes the monitor loop so it can see the stop flag.
        self._client.ping()
        self._thread.join(timeout=10)
        self._client.close()

    def _record(self) -> None:
        with self._client.monitor() as monitor:
            while not self._stop.is_set():
                self.commands.append(str(monitor.next_command()["command"]))

    def texts(self) -> list[str]:
        """Each command, and each base64 message body inside one, decoded."""
        decoded = [
            base64.b64decode(body).decode(errors="replace")
            for command in self.commands
            for body in _BODY.findall(command)
        ]
        return self.commands + decoded
