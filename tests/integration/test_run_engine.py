"""End to end on real parts: real Redis, real worker processes, the simulator over HTTP."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import enqueue_batch, simulator_stats, wait_for_batch
from workers import connections
from workers.db import store

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]

PARALLEL_PROMPTS = [
    "What's the weather in Paris and London?",
    "What's the weather in Tokyo, Lima and Oslo?",
    "What's the weather in Berlin? Also search for celery chords.",
]


def test_fifty_runs_with_parallel_tool_calls_complete_and_each_call_runs_once(fleet):
    before = simulator_stats(fleet)
    inputs = [PARALLEL_PROMPTS[i % 3] for i in range(50)]
    batch_id = enqueue_batch(inputs)
    wait_for_batch(batch_id, len(inputs))

    with connections.new_session() as session:
        runs = store.list_runs(session, batch_id=batch_id)
        calls = store.batch_tool_calls(session, batch_id=batch_id)
    assert [r.error for r in runs if r.status != "completed"] == []
    assert all(r.result_text and r.result_text.startswith("Here is what I found") for r in runs)
    expected_calls = sum({0: 2, 1: 3, 2: 2}[i % 3] for i in range(50))
    assert len(calls) == expected_calls
    assert {(c.status, c.attempts) for c in calls} == {("succeeded", 1)}
    assert all(r.poll_count >= 1 for r in runs)
    assert all(r.input_tokens > 0 and r.output_tokens > 0 for r in runs)
    after = simulator_stats(fleet)
    # The provider received each tool output exactly once: no call was submitted twice.
    submitted = after["tool_outputs_submitted"] - before["tool_outputs_submitted"]
    assert submitted == expected_calls


def test_a_failed_model_turn_ends_the_run_failed_with_the_reason(fleet):
    batch_id = enqueue_batch(["What's the weather in Rome? #fail"])
    wait_for_batch(batch_id, 1)
    with connections.new_session() as session:
        [run] = store.list_runs(session, batch_id=batch_id)
    assert run.status == "failed"
    assert "server_error" in (run.error or "")


def test_bad_arguments_and_forbidden_tools_become_error_outputs_not_crashes(fleet):
    batch_id = enqueue_batch(
        ["What's the weather in Rome? #bad_args", "What's the weather in Rome? #unknown_tool"]
    )
    wait_for_batch(batch_id, 2)
    with connections.new_session() as session:
        runs = store.list_runs(session, batch_id=batch_id)
        calls = store.batch_tool_calls(session, batch_id=batch_id)
    assert {r.status for r in runs} == {"completed"}
    errors = {json.loads(c.output)["error"]["type"] for c in calls if c.status == "failed"}
    assert errors == {"InvalidToolArguments", "UnknownTool"}
