"""Tool execution: retries for retryable tools, the circuit breaker, cancelled runs."""

import dataclasses
import json
from pathlib import Path

import pytest
from sqlmodel import Session

from tests.workers.steps_fixtures import Clock, insert_run, make_context, memory_engine
from workers.agents import Agent, register_agent
from workers.db import store
from workers.providers.fake import scripted
from workers.providers.interface import ProviderState, ProviderStatus, ToolCallRequest
from workers.runs.outcomes import cancel_run
from workers.runs.steps import start_run
from workers.runs.tool_calls import execute_tool_call
from workers.tools.breaker import BreakerPolicy
from workers.tools.breaker_store import InMemoryToolBreakers
from workers.tools.registry import tool

# Tools run in a child process: they count their executions in a file, not in memory.
EXECUTIONS: dict[str, Path] = {}


@pytest.fixture(autouse=True)
def executions_file(tmp_path: Path) -> Path:
    EXECUTIONS["file"] = tmp_path / "executions"
    EXECUTIONS["file"].touch()
    return EXECUTIONS["file"]


def count_execution() -> int:
    """Record one execution; how many there have been, this one included."""
    with EXECUTIONS["file"].open("a") as log:
        log.write("ran\n")
    return len(EXECUTIONS["file"].read_text().splitlines())


def executions() -> int:
    return len(EXECUTIONS["file"].read_text().splitlines())


@tool(name="flaky_lookup_test", retryable=True, idempotent=True)
def flaky_lookup() -> str:
    """Fails twice, then answers (idempotent, so retrying is safe)."""
    if count_execution() % 3:
        raise ConnectionError("upstream hiccup")
    return "found"


@tool(name="flaky_charge_test", retryable=True)
def flaky_charge() -> str:
    """Fails like a transient error, but is not idempotent: the charge may have gone through."""
    count_execution()
    raise ConnectionError("reset after the charge was sent")


@tool(name="broken_test")
def broken() -> str:
    """Always fails."""
    raise RuntimeError("down")


@tool(name="fine_test")
def fine() -> str:
    """Always works."""
    return "ok"


register_agent(
    Agent(
        name="tools-test",
        model="m",
        tools=("flaky_lookup_test", "flaky_charge_test", "broken_test", "fine_test"),
    )
)


def one_call_run(engine, ctx, name, call_id="call_1"):
    ctx.provider_for(None).queue(
        ProviderState(
            ProviderStatus.REQUIRES_TOOLS,
            "resp_1",
            tool_calls=(ToolCallRequest(call_id, name, "{}"),),
        )
    )
    run_id = insert_run(engine, agent="tools-test")
    start_run(ctx, run_id)
    return run_id


def stored_call(engine, run_id):
    with Session(engine) as session:
        [call] = store.list_tool_calls(session, run_id=run_id)
    return call


def test_a_retryable_tool_is_retried_within_its_one_execution():
    engine = memory_engine()
    ctx = make_context(engine, scripted([]), Clock())
    run_id = one_call_run(engine, ctx, "flaky_lookup_test")
    assert execute_tool_call(ctx, run_id, "call_1").status == "succeeded"
    call = stored_call(engine, run_id)
    assert (call.output, call.attempts, executions()) == ("found", 3, 3)


def test_a_retryable_tool_not_declared_idempotent_runs_once_and_says_it_may_have_run():
    engine = memory_engine()
    ctx = make_context(engine, scripted([]), Clock())
    run_id = one_call_run(engine, ctx, "flaky_charge_test")
    assert execute_tool_call(ctx, run_id, "call_1").status == "failed"
    call = stored_call(engine, run_id)
    assert (executions(), call.attempts) == (1, 1)
    message = json.loads(call.output)["error"]["message"]
    assert "reset after the charge was sent" in message
    assert "may or may not have run" in message


def test_an_open_breaker_answers_unavailable_without_running_the_tool():
    engine = memory_engine()
    breakers = InMemoryToolBreakers(BreakerPolicy(failure_threshold=2, cooldown_ms=60_000))
    ctx = dataclasses.replace(make_context(engine, scripted([]), Clock()), breakers=breakers)
    outputs = []
    for index in range(3):
        run_id = one_call_run(engine, ctx, "broken_test", call_id=f"call_{index}")
        execute_tool_call(ctx, run_id, f"call_{index}")
        outputs.append(json.loads(stored_call(engine, run_id).output)["error"]["type"])
    assert outputs == ["ToolRaised", "ToolRaised", "ToolUnavailable"]


class CountedBreakers(InMemoryToolBreakers):
    def __init__(self) -> None:
        super().__init__(BreakerPolicy(failure_threshold=5, cooldown_ms=60_000))
        self.recorded: list[tuple[str, bool]] = []

    def record(self, tool_name: str, succeeded: bool, now_ms: int) -> None:
        self.recorded.append((tool_name, succeeded))
        super().record(tool_name, succeeded, now_ms)


def test_a_healthy_tools_success_is_not_reported_to_its_breaker():
    engine = memory_engine()
    breakers = CountedBreakers()
    ctx = dataclasses.replace(make_context(engine, scripted([]), Clock()), breakers=breakers)
    calls = [("fine_test", "call_0"), ("broken_test", "call_1"), ("fine_test", "call_2")]
    for name, call_id in calls:
        execute_tool_call(ctx, one_call_run(engine, ctx, name, call_id=call_id), call_id)
    # nothing on record: the success changes nothing, so it costs no write; once a failure
    # is on record, a success must be told (it resets the count)
    assert breakers.recorded == [("broken_test", False)]
    breakers.record("fine_test", False, 0)  # a failure on record (another worker's)
    execute_tool_call(ctx, one_call_run(engine, ctx, "fine_test", call_id="call_3"), "call_3")
    assert breakers.recorded[-1] == ("fine_test", True)
    assert breakers.state("fine_test").consecutive_failures == 0


def test_tools_of_a_cancelled_run_do_not_run():
    engine = memory_engine()
    ctx = make_context(engine, scripted([]), Clock())
    run_id = one_call_run(engine, ctx, "broken_test")
    ctx.provider_for(None).queue(ProviderState(ProviderStatus.CANCELLED, "resp_1"))
    assert cancel_run(ctx, run_id)
    assert execute_tool_call(ctx, run_id, "call_1").status == "skipped"
    assert stored_call(engine, run_id).attempts == 0
    assert not cancel_run(ctx, run_id)  # already ended
