"""End to end on real parts: real Redis, real worker processes, the simulator over HTTP."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.fleet import enqueue_batch, simulator_stats, wait_for_batch
from workers import wiring
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

    with wiring.new_session() as session:
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
    with wiring.new_session() as session:
        [run] = store.list_runs(session, batch_id=batch_id)
    assert run.status == "failed"
    assert "server_error" in (run.error or "")


def test_bad_arguments_and_forbidden_tools_become_error_outputs_not_crashes(fleet):
    batch_id = enqueue_batch(
        ["What's the weather in Rome? #bad_args", "What's the weather in Rome? #unknown_tool"]
    )
    wait_for_batch(batch_id, 2)
    with wiring.new_session() as session:
        runs = store.list_runs(session, batch_id=batch_id)
        calls = store.batch_tool_calls(session, batch_id=batch_id)
    assert {r.status for r in runs} == {"completed"}
    errors = {json.loads(c.output)["error"]["type"] for c in calls if c.status == "failed"}
    assert errors == {"InvalidToolArguments", "UnknownTool"}


def test_garbage_messages_do_not_poison_the_queue(fleet):
    from config.celery_app import app

    # Messages no enqueuer of ours would send: unknown run, wrong arguments, unknown task.
    app.send_task("runq.runs.poll", args=["run_does_not_exist", 0])
    app.send_task("runq.runs.start", args=[{"not": "an id"}, 1, 2])
    app.send_task("runq.tools.execute", args=["run_nope"])
    app.send_task("runq.no.such.task", args=[])
    batch_id = enqueue_batch(["What's the weather in Paris and London?"] * 5)
    wait_for_batch(batch_id, 5)
    with wiring.new_session() as session:
        runs = store.list_runs(session, batch_id=batch_id)
    assert {r.status for r in runs} == {"completed"}
    assert all(process.poll() is None for process in fleet.workers)


def test_a_provider_that_times_out_is_retried_until_it_answers(fleet):
    from tests.integration.fleet import configure_simulator

    before = simulator_stats(fleet)
    configure_simulator(fleet, delay_ms=5000)  # longer than RUNQ_PROVIDER_TIMEOUT_S=3
    try:
        batch_id = enqueue_batch(["What's the weather in Lima?"] * 3)
        time.sleep(4)
    finally:
        configure_simulator(fleet, delay_ms=0)
    wait_for_batch(batch_id, 3, timeout_s=60)
    with wiring.new_session() as session:
        runs = store.list_runs(session, batch_id=batch_id)
    assert {r.status for r in runs} == {"completed"}, [r.error for r in runs]
    after = simulator_stats(fleet)
    # The timed-out creates were retried, and the provider still finished the abandoned
    # ones: the documented cost of retrying a create without an idempotency key (§7.4).
    assert after["responses_created"] - before["responses_created"] > len(runs)
