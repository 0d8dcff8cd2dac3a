"""A tool call runs once, on real worker processes: a tool that is not idempotent is never
run again automatically, and attempts of one call never overlap."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

import tests.integration.agents  # noqa: F401  (registered once at import, as the workers do)
from bench.chaos_agents import EXECUTIONS_FILE_ENV
from tests.integration.fleet import enqueue_batch, wait_for_batch
from workers import wiring
from workers.db import store

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]


def run_one(fleet, tool: str) -> tuple[str, list[str], object]:
    """One run of the chaos-once agent calling `tool` with a fresh key; waits for its end and
    returns (key, the executions file's lines for that key, the stored call)."""
    key = uuid.uuid4().hex[:10]
    batch_id = enqueue_batch([f"use tool {tool} with {key}"], agent="chaos-once")
    wait_for_batch(batch_id, 1, timeout_s=60)
    with wiring.new_session() as session:
        [run] = store.list_runs(session, batch_id=batch_id)
        [call] = store.list_tool_calls(session, run_id=run.id)
    assert run.status == "completed", run.error
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


def test_retries_of_a_timed_out_idempotent_tool_never_overlap(fleet):
    _, executions, call = run_one(fleet, "chaos_slow_lookup")

    # Three attempts (idempotent and retryable), each stopped at its timeout before the next
    # began: once an attempt has started, no earlier attempt writes another line.
    starts = [line.split()[3] for line in executions if line.split()[2] == "start"]
    assert len(starts) == 3, executions
    finished: set[str] = set()
    current = None
    for line in executions:
        _, _, event, attempt = line.split()
        if event == "start":
            if current is not None:
                finished.add(current)
            current = attempt
        assert attempt not in finished, f"attempt {attempt} still ran after a later one began"
    assert call.status == "failed"
    assert "did not finish within 1 s" in (call.output or "")
