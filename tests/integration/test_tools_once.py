"""A tool call runs once, on real worker processes: a tool that is not idempotent is never
run again automatically, and attempts of one call never overlap."""

from __future__ import annotations

import json
import signal
import time
import uuid
from pathlib import Path

import pytest

import tests.integration.agents  # noqa: F401  (registered once at import, as the workers do)
from bench.chaos_agents import EXECUTIONS_FILE_ENV, SLOW_LOOKUP_TIMEOUT_S
from config.celery_app import app
from tests.integration.fleet import enqueue_batch, wait_for_batch
from workers import wiring
from workers.db import store
from workers.db.models import utcnow

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]


def run_one(fleet, tool: str, meanwhile=None) -> tuple[str, list[str], object]:
    """One run of the chaos-once agent calling `tool` with a fresh key; waits for its end and
    returns (key, the executions file's lines for that key, the stored call). `meanwhile`
    gets the batch id and the key while the run is in flight."""
    key = uuid.uuid4().hex[:10]
    batch_id = enqueue_batch([f"use tool {tool} with {key}"], agent="chaos-once")
    if meanwhile is not None:
        meanwhile(batch_id, key)
    wait_for_batch(batch_id, 1, timeout_s=60)
    with wiring.new_session() as session:
        [run] = store.list_runs(session, batch_id=batch_id)
        calls = store.list_tool_calls(session, run_id=run.id)
    assert run.status == "completed", f"{run.status}: {run.error}"
    [call] = calls
    lines = Path(fleet.env[EXECUTIONS_FILE_ENV]).read_text().splitlines()
    return key, [line for line in lines if line.split()[:2] == [tool, key]], call


def test_a_retryable_tool_not_declared_idempotent_runs_once_and_says_it_may_have_run(fleet):
    key, executions, call = run_one(fleet, "chaos_flaky_charge")

    # It raised: it was not retried (it used to run 3 times), and the model was told why.
    assert executions == [f"chaos_flaky_charge {key}"]
    assert call.status == "failed"
    error = json.loads(call.output)["error"]
    assert "upstream reset the connection" in error["message"]
    assert "may or may not have run" in error["message"]


def assert_no_overlap(executions: list[str]) -> None:
    """Once an attempt has started, no earlier attempt of the call writes another line."""
    finished: set[str] = set()
    current = None
    for line in executions:
        _, _, event, attempt = line.split()
        if event == "start":
            if current is not None:
                finished.add(current)
            current = attempt
        assert attempt not in finished, f"attempt {attempt} still ran after a later one began"


def test_retries_of_a_timed_out_idempotent_tool_never_overlap(fleet):
    _, executions, call = run_one(fleet, "chaos_slow_lookup")

    # Three attempts (idempotent and retryable), each stopped at its timeout before the next.
    starts = [line for line in executions if line.split()[2] == "start"]
    assert len(starts) == 3, executions
    assert_no_overlap(executions)
    assert call.status == "failed"
    assert f"did not finish within {SLOW_LOOKUP_TIMEOUT_S:g} s" in (call.output or "")


def test_a_redelivered_tool_task_never_runs_while_the_call_holds_its_lease(fleet):
    def redeliver_after_the_first_lease(batch_id: str, _key: str) -> None:
        # The call's attempts take 3 x 1.5 s; its first lease (claim + timeout + grace) ends
        # after 3.5 s, while the third attempt runs. A copy of the task delivered then (as a
        # redelivery or the sweep would) must find the lease renewed by that attempt.
        run_id, call_id, claimed_at = running_call(batch_id)
        first_lease_s = SLOW_LOOKUP_TIMEOUT_S + float(fleet.env["RUNQ_TOOL_GRACE_S"])
        wait_s = (claimed_at - utcnow()).total_seconds() + first_lease_s + 0.3
        time.sleep(max(0.0, wait_s))
        app.send_task("runq.tools.execute", args=(run_id, call_id), queue="tools")

    _, executions, call = run_one(fleet, "chaos_slow_lookup", redeliver_after_the_first_lease)

    assert_no_overlap(executions)
    assert len([line for line in executions if line.split()[2] == "start"]) == 3, executions
    assert call.status == "failed"


def test_a_worker_killed_mid_call_stops_its_tool_and_the_call_is_not_run_again(fleet):
    executions_file = Path(fleet.env[EXECUTIONS_FILE_ENV])

    def kill_the_tools_worker_mid_call(batch_id: str, key: str) -> None:
        running_call(batch_id)
        deadline = time.monotonic() + 30
        while f"chaos_slow_charge {key} start" not in executions_file.read_text():
            assert time.monotonic() < deadline, "the tool never started"
            time.sleep(0.05)
        [tools_worker] = [p for p in fleet.workers if serves(p.args, "tools")]
        tools_worker.send_signal(signal.SIGKILL)
        tools_worker.wait(timeout=10)
        # The tool's process died with its worker: its ticks stop (give it time to write).
        lines = len(executions_file.read_text().splitlines())
        time.sleep(1.0)
        assert len(executions_file.read_text().splitlines()) == lines
        fleet.revive_workers()

    _, executions, call = run_one(fleet, "chaos_slow_charge", kill_the_tools_worker_mid_call)

    # Not idempotent: never run again; the model reads that it may or may not have run.
    assert len([line for line in executions if line.split()[2] == "start"]) == 1, executions
    assert call.status == "failed"
    error = json.loads(call.output)["error"]
    assert error["type"] == "ToolInterrupted"
    assert "may or may not have run" in error["message"]
    fleet.wait_for_workers(len(fleet.workers))


def running_call(batch_id: str):
    """(run id, call id, claim time) of the batch's one run's first call once it runs."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with wiring.new_session() as session:
            [run] = store.list_runs(session, batch_id=batch_id)
            calls = store.list_tool_calls(session, run_id=run.id)
        if calls and calls[0].started_at is not None:
            return run.id, calls[0].call_id, calls[0].started_at
        time.sleep(0.05)
    pytest.fail("the tool call did not start within 30 s")


def serves(args: object, queue: str) -> bool:
    """Whether a worker started with `args` serves exactly `queue` (its -Q value)."""
    argv = [str(arg) for arg in args]  # type: ignore[attr-defined]
    return "-Q" in argv and argv[argv.index("-Q") + 1] == queue


def test_the_tools_workers_hosts_are_forked_by_its_host_server(fleet):
    # The tools worker started its server at start-up: its hosts are the server's children
    batch_id = enqueue_batch(["use tool host_parent"], agent="host-parent-agent")
    wait_for_batch(batch_id, 1, timeout_s=60)
    with wiring.new_session() as session:
        [run] = store.list_runs(session, batch_id=batch_id)
        [call] = store.list_tool_calls(session, run_id=run.id)

    assert (run.status, call.status) == ("completed", "succeeded")
    assert call.output == "runq-host-srv", call.output
