"""The same scenarios on each provider surface (Responses, Chat Completions, Assistants),
on real Redis and real worker processes against the simulator over HTTP."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from tests.integration.agents import PROVIDERS, WeatherReport
from tests.integration.fleet import (
    configure_simulator,
    enqueue_batch,
    simulator_stats,
    wait_for_batch,
)
from workers import wiring
from workers.db import store

SURFACE_COUNTER = {
    "responses": "responses_created",
    "chat": "chat_completions",
    "assistants": "assistant_runs_created",
}

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]


def only_run(batch_id):
    with wiring.new_session() as session:
        [run] = store.list_runs(session, batch_id=batch_id)
        calls = store.list_tool_calls(session, run_id=run.id)
    return run, calls


def run_one(agent, text, **job):
    batch_id = enqueue_batch([text], agent=agent, **job)
    wait_for_batch(batch_id, 1, timeout_s=60)
    return only_run(batch_id)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_plain_answer(fleet, provider):
    before = simulator_stats(fleet)
    run, calls = run_one(f"{provider}-agent", "Hello there")
    assert (run.status, run.result_text, calls) == ("completed", "Echo: Hello there", [])
    # ... and it went to that provider's own surface
    counter = SURFACE_COUNTER[provider]
    assert simulator_stats(fleet)[counter] == before[counter] + 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_parallel_tool_calls_over_two_turns(fleet, provider):
    run, calls = run_one(f"{provider}-agent", "What's the weather in Paris and London? #turns=2")
    assert run.status == "completed", run.error
    assert run.turn == 2 and run.result_text.startswith("Here is what I found")
    assert [(c.turn, c.name, c.status, c.attempts) for c in calls] == [
        (1, "get_weather", "succeeded", 1),
        (1, "get_weather", "succeeded", 1),
        (2, "get_weather", "succeeded", 1),
        (2, "get_weather", "succeeded", 1),
    ]
    assert run.input_tokens > 0 and run.output_tokens > 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_structured_output_valid_and_invalid(fleet, provider):
    good, _ = run_one(f"{provider}-structured", "Report the weather in Paris.")
    assert good.status == "completed", good.error
    WeatherReport.model_validate(json.loads(good.result_json))
    bad, _ = run_one(f"{provider}-structured", "Report the weather in Paris. #invalid_json")
    assert bad.status == "failed"
    assert "does not match the schema" in bad.error


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_invalid_structured_answer_is_corrected_when_the_agent_allows_a_retry(fleet, provider):
    run, _ = run_one(f"{provider}-structured-retry", "Report the weather in Oslo. #invalid_json")
    assert run.status == "completed", run.error
    assert run.output_retries_used == 1
    WeatherReport.model_validate(json.loads(run.result_json))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_tool_that_raises_becomes_an_error_output(fleet, provider):
    run, calls = run_one(f"{provider}-agent", "What's the weather in Oslo? #unknown_tool")
    assert run.status == "completed", run.error
    failed = [c for c in calls if c.status == "failed"]
    assert [c.name for c in failed] == ["delete_everything"]
    assert json.loads(failed[0].output)["error"]["type"] == "ToolRaised"
    assert "refusing to delete everything" in failed[0].output


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cancel_mid_run(fleet, provider):
    from workers.runs.outcomes import cancel_run

    if provider == "chat":
        # A chat turn is one synchronous call: cancel while that call is still in flight.
        # (the run says in_progress from the moment its turn is claimed)
        configure_simulator(fleet, delay_ms=2000)
    waiting_for = ("in_progress",)
    try:
        text = "What's the weather in Rome? #slow=4000"
        batch_id = enqueue_batch([text], agent=f"{provider}-agent")
        run = wait_until(batch_id, lambda r: r.status in waiting_for)
        time.sleep(0.3)  # let the provider call be under way
        assert cancel_run(wiring.get_step_context(), run.id)
        wait_for_batch(batch_id, 1)
    finally:
        configure_simulator(fleet, delay_ms=0)
    run, _ = only_run(batch_id)
    assert (run.status, run.error) == ("cancelled", "cancelled by request")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_run_past_its_deadline_expires(fleet, provider):
    run, _ = run_one(f"{provider}-agent", "Hello #slow=5000", deadline_s=1.5)
    if provider == "chat":
        # One synchronous call per turn: a fast turn finishes before any deadline check.
        assert run.status == "completed"
    else:
        assert run.status == "expired" and "deadline" in run.error


def test_thread_continuity_across_a_worker_restart(fleet):
    first, _ = run_one("responses-agent", "Remember: my name is Ada.", thread_key="user-ada")
    # A deploy: every worker stopped, then started again under its own name (a later test
    # may address one by name, as the compose healthcheck's ping does).
    fleet.restart_workers()
    fleet.wait_for_workers(len(fleet.workers))
    second, _ = run_one("responses-agent", "What is my name?", thread_key="user-ada")
    assert first.status == second.status == "completed"
    assert first.thread_id == second.thread_id is not None
    from gateway.run_view import thread_history

    history = thread_history("user-ada")
    assert [r["input"] for r in history["runs"]] == [
        "Remember: my name is Ada.",
        "What is my name?",
    ]
    items = conversation_items(fleet, history["provider_ref"])
    user_texts = [i["content"][0]["text"] for i in items if i.get("role") == "user"]
    assert user_texts == ["Remember: my name is Ada.", "What is my name?"]


def test_a_chain_mode_thread_continues_from_its_last_response(fleet):
    first, _ = run_one("responses-chain", "Remember: my name is Grace.", thread_key="user-grace")
    second, _ = run_one("responses-chain", "What is my name?", thread_key="user-grace")
    assert first.status == second.status == "completed"
    from gateway.run_view import thread_history

    assert thread_history("user-grace")["provider_ref"] == second.provider_ref
    # The second run's first response was chained onto the first run's final response.
    second_start = fetch_simulator(fleet, f"/v1/responses/{second.provider_ref}")
    while second_start["previous_response_id"] != first.provider_ref:
        assert second_start["previous_response_id"], "second run was not chained"
        second_start = fetch_simulator(
            fleet, f"/v1/responses/{second_start['previous_response_id']}"
        )


def test_a_thread_runs_one_run_at_a_time(fleet):
    batch_id = enqueue_batch(
        ["Hello #slow=600", "Hello again", "Hello a third time"],
        agent="chat-agent",
        thread_key="user-queue",
    )
    wait_for_batch(batch_id, 3)
    with wiring.new_session() as session:
        runs = sorted(store.list_runs(session, batch_id=batch_id), key=lambda r: r.created_at)
    assert {r.status for r in runs} == {"completed"}
    for earlier, later in itertools.pairwise(runs):
        assert earlier.finished_at <= later.started_at


def wait_until(batch_id, predicate, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with wiring.new_session() as session:
            [run] = store.list_runs(session, batch_id=batch_id)
        if predicate(run):
            return run
        time.sleep(0.05)
    pytest.fail(f"run of {batch_id} never matched; last status {run.status}")


def fetch_simulator(fleet, path):
    import urllib.request

    request = urllib.request.Request(
        f"{fleet.simulator_url}{path}", headers={"Authorization": "Bearer sk-runq-simulator"}
    )
    with urllib.request.urlopen(request, timeout=5) as reply:
        return json.load(reply)


def conversation_items(fleet, conversation_id):
    path = f"/v1/conversations/{conversation_id}/items?order=asc&limit=100"
    return fetch_simulator(fleet, path)["data"]
