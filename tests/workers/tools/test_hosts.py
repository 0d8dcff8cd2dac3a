"""Tool hosts: a child process serves call after call, and is replaced whenever a call could
leave something behind (a timeout, a death, a thread or process still running)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import create_model

from workers.tools import host_server, hosts
from workers.tools.invoke import ToolResult, invoke_tool
from workers.tools.registry import ToolRegistry, tool

HANG_TIMEOUT_S = 0.2
_counter = 0


def host_pid() -> int:
    """The pid of the process running this tool."""
    return os.getpid()


def hang() -> str:
    """Never returns."""
    time.sleep(60)
    return "late"


def die() -> str:
    """Kills its own process without answering."""
    os.kill(os.getpid(), signal.SIGKILL)
    return "unreachable"


def count_up() -> int:
    """A module-level counter: memory that now outlives a call within one host."""
    global _counter
    _counter += 1
    return _counter


Unfindable = create_model("Hidden", name=(str, ...))
"""A model pickle cannot find by its name (module.Hidden)."""


_with_server = False
"""Whether this test's hosts are forked by a host server (see the `pool` fixture)."""


@pytest.fixture(autouse=True, params=["forked by the worker", "forked by the host server"])
def pool(request, monkeypatch) -> Iterator[hosts._HostPool]:
    """Every test twice: hosts forked by the worker itself, and by a host server started as
    a worker starts it (after its tools are registered: see `make_registry`)."""
    global _with_server
    fresh = hosts._HostPool()
    monkeypatch.setattr(hosts, "_pool", fresh)
    _with_server = request.param == "forked by the host server"
    yield fresh
    _with_server = False
    fresh.stop_all()
    server = fresh._server
    if server is not None:
        server.sock.close()  # the server exits, and its hosts with it
        os.waitpid(server.pid, 0)


def make_registry(*fns: Callable[..., Any]) -> ToolRegistry:
    registry = ToolRegistry()
    for fn in fns:
        tool(registry=registry)(fn)
    if _with_server:
        hosts.start_host_server(registry)
    return registry


def pid_of(result: ToolResult) -> int:
    assert not result.is_error, result.error
    return int(result.output)


def has_died(pgid: int) -> bool:
    """Whether every process of group `pgid` is gone (a zombie waiting for init counts as
    gone), given a moment: a process killed from elsewhere does not die at once."""
    deadline_s = time.monotonic() + 2.0
    while _running_in_group(pgid):
        if time.monotonic() > deadline_s:
            return False
        time.sleep(0.02)
    return True


def _running_in_group(pgid: int) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def test_a_host_is_reused_across_calls() -> None:
    registry = make_registry(host_pid, count_up)

    first = pid_of(invoke_tool(registry, "host_pid", "{}"))
    second = pid_of(invoke_tool(registry, "host_pid", "{}"))

    assert first == second != os.getpid()
    # The trade-off: the host's memory outlives a call (the worker's own counter is untouched).
    assert [invoke_tool(registry, "count_up", "{}").output for _ in range(2)] == ["1", "2"]
    assert _counter == 0


def test_a_timed_out_host_is_killed_with_its_group_and_replaced() -> None:
    registry = make_registry(host_pid, hang)
    first = pid_of(invoke_tool(registry, "host_pid", "{}"))

    result = invoke_tool(registry, "hang", "{}", timeout_s=HANG_TIMEOUT_S)

    assert result.error_type == "ToolTimedOut"
    assert has_died(first)  # its process group is gone, not only the host
    assert pid_of(invoke_tool(registry, "host_pid", "{}")) != first


def test_a_host_that_dies_mid_call_gives_a_clear_error_and_the_next_call_works() -> None:
    registry = make_registry(host_pid, die)
    first = pid_of(invoke_tool(registry, "host_pid", "{}"))

    result = invoke_tool(registry, "die", "{}")

    assert json.loads(result.output)["error"] == {
        "type": "ToolRaised",
        "message": "tool 'die' stopped without returning a value",
    }
    assert pid_of(invoke_tool(registry, "host_pid", "{}")) not in (first, os.getpid())


def test_a_host_that_died_while_idle_is_replaced_and_the_call_still_runs() -> None:
    registry = make_registry(host_pid)
    first = pid_of(invoke_tool(registry, "host_pid", "{}"))
    os.kill(first, signal.SIGKILL)
    assert has_died(first)  # dead (the pool, or the server, still reaps it)

    assert pid_of(invoke_tool(registry, "host_pid", "{}")) != first


def test_concurrent_calls_each_get_a_host_that_outlives_the_calling_thread() -> None:
    def slow_pid() -> int:
        """Holds its host for a while."""
        time.sleep(0.3)
        return os.getpid()

    registry = make_registry(slow_pid)
    pids: list[int] = []
    start = threading.Barrier(4)

    def call() -> None:
        start.wait()
        pids.append(pid_of(invoke_tool(registry, "slow_pid", "{}")))

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(pids)) == 4
    # The calling threads ended: their hosts did not die with them (PR_SET_PDEATHSIG follows
    # the forking thread), and the next call reuses one.
    assert all(_running_in_group(pid) for pid in pids)
    assert pid_of(invoke_tool(registry, "slow_pid", "{}")) in pids


def test_what_a_call_left_running_is_killed_and_its_host_not_reused(tmp_path) -> None:
    marker = tmp_path / "late"

    def start_and_leave() -> int:
        """Starts a process and a thread that outlive the call."""
        subprocess.Popen(["sh", "-c", f"sleep {HANG_TIMEOUT_S * 2}; touch {marker}"])
        threading.Thread(target=time.sleep, args=(60,)).start()
        return os.getpid()

    registry = make_registry(start_and_leave, host_pid)
    first = pid_of(invoke_tool(registry, "start_and_leave", "{}"))

    assert has_died(first)
    assert pid_of(invoke_tool(registry, "host_pid", "{}")) != first
    time.sleep(HANG_TIMEOUT_S * 4)
    assert not marker.exists()


def test_a_tool_registered_after_the_host_was_forked_still_runs() -> None:
    registry = make_registry(host_pid)
    invoke_tool(registry, "host_pid", "{}")

    def later() -> str:
        """Registered after the first host was forked."""
        return "here"

    tool(registry=registry)(later)

    assert invoke_tool(registry, "later", "{}").output == "here"


def echo(item: Unfindable) -> str:  # type: ignore[valid-type]
    """Echo."""
    return str(item.name)


def test_arguments_that_cannot_be_pickled_run_in_a_new_host() -> None:
    registry = make_registry(echo)

    assert invoke_tool(registry, "echo", '{"item": {"name": "x"}}').output == "x"
    assert invoke_tool(registry, "echo", '{"item": {"name": "y"}}').output == "y"


def test_an_old_host_is_replaced(monkeypatch) -> None:
    registry = make_registry(host_pid)
    first = pid_of(invoke_tool(registry, "host_pid", "{}"))
    monkeypatch.setattr(hosts, "HOST_LIFETIME_S", 0.0)

    assert pid_of(invoke_tool(registry, "host_pid", "{}")) != first
    assert has_died(first)


def test_a_host_left_idle_is_stopped_without_waiting_for_a_call(monkeypatch) -> None:
    monkeypatch.setattr(hosts, "HOST_IDLE_S", 0.1)
    registry = make_registry(host_pid)

    first = pid_of(invoke_tool(registry, "host_pid", "{}"))

    assert has_died(first)  # the forking thread sweeps every second


def test_a_forked_worker_starts_with_no_hosts_and_leaves_the_parents_alone() -> None:
    registry = make_registry(host_pid)
    parents_host = pid_of(invoke_tool(registry, "host_pid", "{}"))
    read_fd, write_fd = os.pipe()

    pid = os.fork()
    if pid == 0:  # the forked worker: report its host's pid and parent, never return
        try:
            os.close(read_fd)
            own_host = pid_of(invoke_tool(registry, "host_pid", "{}"))
            os.write(write_fd, json.dumps([own_host, os.getpid()]).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        own_host, child = json.loads(pipe.read())
    os.waitpid(pid, 0)

    assert own_host not in (parents_host, child)
    assert has_died(own_host)  # it died with the forked worker
    assert pid_of(invoke_tool(registry, "host_pid", "{}")) == parents_host


def test_a_host_dies_with_its_worker_even_a_sigkilled_one(tmp_path) -> None:
    started, marker = tmp_path / "host_pid", tmp_path / "late"

    def wait_then_write() -> str:
        """Says where it runs, then does its work a while later."""
        started.write_text(str(os.getpid()))
        time.sleep(HANG_TIMEOUT_S * 3)
        marker.write_text("late")
        return "done"

    registry = ToolRegistry()
    tool(registry=registry)(wait_then_write)
    worker = os.fork()
    if worker == 0:  # the worker: (start its server,) call the tool, never return into pytest
        try:
            if _with_server:  # its host is then the server's child, which dies with it
                hosts.start_host_server(registry)
            invoke_tool(registry, "wait_then_write", "{}")
        finally:
            os._exit(0)
    deadline_s = time.monotonic() + 5.0
    while not started.exists() or not started.read_text():
        assert time.monotonic() < deadline_s, "the tool never started"
        time.sleep(0.01)

    os.kill(worker, signal.SIGKILL)
    os.waitpid(worker, 0)

    assert has_died(int(started.read_text()))
    time.sleep(HANG_TIMEOUT_S * 4)
    assert not marker.exists()


@pytest.mark.parametrize("timeout_s", [HANG_TIMEOUT_S])
def test_an_async_tool_cut_off_at_its_timeout_does_not_keep_its_host(timeout_s) -> None:
    import asyncio

    async def slow() -> str:
        """Sleeps past its timeout."""
        await asyncio.sleep(5)
        return "late"

    registry = make_registry(host_pid, slow)
    first = pid_of(invoke_tool(registry, "host_pid", "{}"))

    assert invoke_tool(registry, "slow", "{}", timeout_s=timeout_s).error_type == "ToolTimedOut"
    assert has_died(first)


def parent_pid() -> int:
    """The pid of the process that forked this tool's host."""
    return os.getppid()


def test_the_hosts_parent_is_the_server_if_there_is_one_else_the_worker(pool) -> None:
    registry = make_registry(parent_pid)
    server = pool._server

    parents = {pid_of(invoke_tool(registry, "parent_pid", "{}")) for _ in range(3)}

    assert parents == {server.pid if _with_server and server else os.getpid()}
    assert (server is not None) == _with_server
    if server is not None:  # named, so that `ps` does not show a second worker
        assert Path(f"/proc/{server.pid}/comm").read_text().strip() == "runq-host-srv"


def process_name() -> str:
    """The name of the process running this tool."""
    return Path("/proc/self/comm").read_text().strip()


def test_a_host_is_named_for_ps() -> None:
    registry = make_registry(process_name)

    assert invoke_tool(registry, "process_name", "{}").output == "runq-tool-host"


def test_when_the_server_is_gone_the_worker_forks_hosts_itself(pool) -> None:
    if not _with_server:
        pytest.skip("only hosts forked by a server")
    registry = make_registry(host_pid, parent_pid)
    server = pool._server
    assert server is not None
    first = pid_of(invoke_tool(registry, "host_pid", "{}"))
    os.kill(server.pid, signal.SIGKILL)
    assert has_died(first)  # the server's hosts die with it

    assert pid_of(invoke_tool(registry, "parent_pid", "{}")) == os.getpid()
    assert pool._server is None


def test_a_server_that_does_not_answer_is_taken_for_gone(pool, monkeypatch) -> None:
    if not _with_server:
        pytest.skip("only hosts forked by a server")
    monkeypatch.setattr(host_server, "_ANSWER_WITHIN_S", 0.3)
    registry = make_registry(parent_pid)
    server = pool._server
    assert server is not None
    os.kill(server.pid, signal.SIGSTOP)
    try:
        # The worker forks the host itself instead of waiting on the server
        assert pid_of(invoke_tool(registry, "parent_pid", "{}")) == os.getpid()
        assert pool._server is None
    finally:
        os.kill(server.pid, signal.SIGKILL)
        os.kill(server.pid, signal.SIGCONT)
        os.waitpid(server.pid, 0)
