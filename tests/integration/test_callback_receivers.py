"""Hostile callback receivers against the real fleet (issue 16): one that drips its answer a
byte every half second, one that answers 100 MB. The callbacks worker (its own process, as
in the README and compose) ends each delivery at RUNQ_CALLBACK_TIMEOUT_S in all, reads no
more than 64 KiB, keeps its memory, and the other runs' tools go on meanwhile."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.fleet import enqueue_batch, wait_for_batch
from tests.integration.test_http_api import create
from workers import wiring
from workers.db import callback_store, store
from workers.db.models import CallbackAttempt

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(150)]


class Hostile:
    """A TCP receiver on 127.0.0.1 that reads the request, then runs `answer` until the
    sender hangs up or the test ends."""

    def __init__(self, answer: Callable[[socket.socket, threading.Event], None]) -> None:
        self.answer = answer
        self.connections = 0
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        with connection:
            try:
                connection.recv(1 << 20)
                self.answer(connection, self.stop)
            except OSError:
                pass  # the sender hung up: what these receivers are for


def drip(connection: socket.socket, stop: threading.Event) -> None:
    connection.sendall(b"HTTP/1.1 2")
    while not stop.wait(0.5):
        connection.sendall(b"0")


def flood(connection: socket.socket, stop: threading.Event) -> None:
    total = 100 * 1024 * 1024
    connection.sendall(f"HTTP/1.1 500 Oops\r\nContent-Length: {total}\r\n\r\n".encode())
    block = b"y" * 65536
    for _ in range(total // len(block)):
        if stop.is_set():
            return
        connection.sendall(block)


@pytest.fixture
def hostile() -> Iterator[Callable[[Callable[[socket.socket, threading.Event], None]], Hostile]]:
    started: list[Hostile] = []

    def start(answer: Callable[[socket.socket, threading.Event], None]) -> Hostile:
        started.append(Hostile(answer))
        return started[-1]

    yield start
    for receiver in started:
        receiver.stop.set()
        receiver.listener.close()


def first_attempt(run_id: str, timeout_s: float = 60) -> CallbackAttempt:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with wiring.new_session() as session:
            finished = [
                a
                for a in callback_store.list_attempts(session, run_id=run_id)
                if a.error != "in flight"  # what a claimed attempt says until it ends
            ]
        if finished:
            return finished[0]
        time.sleep(0.2)
    raise AssertionError(f"run {run_id}: no callback attempt finished within {timeout_s}s")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def callbacks_worker_pid(fleet) -> int:
    # By queue, not by name: an earlier test may have restarted the fleet under new names.
    [process] = [
        p
        for p in fleet.workers
        if p.poll() is None and str(p.args[p.args.index("-Q") + 1]) == "callbacks"
    ]
    return int(process.pid)


def test_a_dripping_receiver_ends_at_the_deadline_and_stalls_no_tool(fleet, api, hostile):
    receiver = hostile(drip)
    run_id = create(api, callback_url=receiver.url).json()["id"]
    # While the receiver drips, other tenants' runs with tools finish: their tools run in
    # the tools worker, which callbacks never occupy.
    batch = enqueue_batch(["What's the weather in Paris and Oslo?"] * 4, agent="responses-agent")
    wait_for_batch(batch, 4)
    with wiring.new_session() as session:
        assert {r.status for r in store.list_runs(session, batch_id=batch)} == {"completed"}
    attempt = first_attempt(run_id)
    assert attempt.status_code is None
    assert attempt.error is not None and attempt.error.startswith("timed out"), attempt.error


def test_a_100_mb_answer_does_not_grow_the_callbacks_worker(fleet, api, hostile):
    pid = callbacks_worker_pid(fleet)
    before_kib = rss_kib(pid)
    receiver = hostile(flood)
    run_id = create(api, callback_url=receiver.url).json()["id"]
    attempt = first_attempt(run_id)
    assert attempt.status_code == 500 and attempt.error == "HTTP 500"
    grown_kib = rss_kib(pid) - before_kib
    assert grown_kib < 50 * 1024, f"the callbacks worker grew {grown_kib} KiB"  # was ~1.1 GB
