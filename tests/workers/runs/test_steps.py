"""The run steps against a scripted provider and in-memory SQLite: no Redis, no Celery."""

import json
import threading
import time
from dataclasses import replace

import pytest
from sqlmodel import Session

from tests.workers.steps_fixtures import Clock, insert_run, make_context
from workers.agents import Agent, register_agent
from workers.db import store
from workers.db.statuses import RunStatus
from workers.errors import (
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from workers.limits.clearance import NoLimits
from workers.providers.fake import scripted
from workers.providers.interface import ProviderState, ProviderStatus, ToolCallRequest, Usage
from workers.runs.context import FanOut, Later, Nothing, StepName
from workers.runs.steps import poll_run, start_run, submit_outputs
from workers.runs.tool_calls import execute_tool_call
from workers.tools.registry import tool

S = ProviderStatus
WEATHER = ToolCallRequest("call_a", "get_weather", '{"location": "Paris"}')
SEARCH = ToolCallRequest("call_b", "search_documents", '{"query": "celery"}')


def st(status, ref="resp_1", **fields):
    return ProviderState(status=status, ref=ref, **fields)


def load(engine, run_id):
    with Session(engine) as session:
        return store.get_run(session, run_id=run_id)


def test_a_run_with_parallel_tool_calls_goes_start_poll_tools_submit_finish(engine):
    # Given a provider that queues, then asks for two tools, then answers
    provider = scripted(
        [
            st(S.QUEUED),
            st(S.REQUIRES_TOOLS, tool_calls=(WEATHER, SEARCH), usage=Usage(20, 5)),
            st(S.QUEUED, ref="resp_2"),
            st(S.COMPLETED, ref="resp_2", output_text="Sunny.", usage=Usage(40, 7, 8)),
        ]
    )
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine)

    # When the steps run in the order the task layer would send them
    assert start_run(ctx, run_id) == Later(StepName.POLL, (run_id, 1), 0.5)
    fan_out = poll_run(ctx, run_id, 1)
    assert fan_out == FanOut(run_id, 1, ("call_a", "call_b"))
    outcomes = [execute_tool_call(ctx, run_id, call_id) for call_id in fan_out.call_ids]
    assert all(o.ran_now for o in outcomes)
    # the call that records the turn's last output is the one that sends the submit
    assert [o.finished_turn for o in outcomes] == [None, 1]
    assert submit_outputs(ctx, run_id, 1) == Later(StepName.POLL, (run_id, 3), 0.5)
    assert poll_run(ctx, run_id, 3) == Nothing("completed")

    # Then the run is complete with summed usage and every call ran once
    run = load(engine, run_id)
    assert (run.status, run.result_text, run.poll_count, run.turn) == ("completed", "Sunny.", 2, 1)
    assert (run.input_tokens, run.output_tokens, run.cached_tokens) == (60, 12, 8)
    submitted = provider.calls[2]
    assert submitted.method == "submit" and submitted.ref == "resp_1"
    assert [o.call_id for o in submitted.outputs] == ["call_a", "call_b"]
    assert json.loads(submitted.outputs[0].output)["location"] == "Paris"
    with Session(engine) as session:
        calls = store.list_tool_calls(session, run_id=run_id)
    assert [(c.status, c.attempts) for c in calls] == [("succeeded", 1), ("succeeded", 1)]


def test_duplicate_and_stale_messages_do_nothing(engine):
    provider = scripted([st(S.QUEUED), st(S.IN_PROGRESS)])
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine)
    start_run(ctx, run_id)
    assert isinstance(start_run(ctx, run_id), Nothing)  # redelivered start
    assert poll_run(ctx, run_id, 1) == Later(StepName.POLL, (run_id, 2), 1.0)
    assert isinstance(poll_run(ctx, run_id, 1), Nothing)  # a stale copy of poll 1
    assert provider.methods() == ["create", "retrieve"]


def test_a_tool_call_never_runs_twice(engine):
    provider = scripted([st(S.REQUIRES_TOOLS, tool_calls=(WEATHER,))])
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine)
    start_run(ctx, run_id)
    first = execute_tool_call(ctx, run_id, "call_a")
    again = execute_tool_call(ctx, run_id, "call_a")
    assert first.ran_now and not again.ran_now and again.status == "succeeded"
    with Session(engine) as session:
        [call] = store.list_tool_calls(session, run_id=run_id)
    assert call.attempts == 1


@tool(name="charge_card_test")
def charge_card() -> str:
    """Takes a payment: must never run twice (not idempotent)."""
    return "charged"


register_agent(Agent(name="steps-pay", model="m", tools=("get_weather", "charge_card_test")))


def interrupted_call(engine, name):
    """A run whose only call was claimed by a worker that then died; the clock is past its
    timeout and grace. Returns (ctx, run_id)."""
    call = ToolCallRequest(
        "call_a", name, '{"location": "Paris"}' if name == "get_weather" else "{}"
    )
    provider = scripted([st(S.REQUIRES_TOOLS, tool_calls=(call,))])
    clock = Clock()
    ctx = make_context(engine, provider, clock)
    run_id = insert_run(engine, agent="steps-pay")
    start_run(ctx, run_id)
    with Session(engine) as session:  # a worker claimed it, then died
        assert store.claim_tool_call(session, run_id=run_id, call_id="call_a", now=clock())
    assert execute_tool_call(ctx, run_id, "call_a").status == "running"  # may still be going
    clock.advance(3600)
    return ctx, run_id


def test_a_call_interrupted_by_a_lost_worker_is_answered_not_rerun(engine):
    ctx, run_id = interrupted_call(engine, "charge_card_test")
    outcome = execute_tool_call(ctx, run_id, "call_a")
    assert (outcome.status, outcome.ran_now) == ("failed", False)
    with Session(engine) as session:
        [call] = store.list_tool_calls(session, run_id=run_id)
    assert "ToolInterrupted" in (call.output or "") and call.attempts == 1


def test_an_idempotent_call_interrupted_by_a_lost_worker_runs_again(engine):
    ctx, run_id = interrupted_call(engine, "get_weather")
    outcome = execute_tool_call(ctx, run_id, "call_a")
    again = execute_tool_call(ctx, run_id, "call_a")
    assert (outcome.status, outcome.ran_now) == ("succeeded", True)
    assert (again.status, again.ran_now) == ("succeeded", False)
    with Session(engine) as session:
        [call] = store.list_tool_calls(session, run_id=run_id)
    assert "Paris" in (call.output or "") and call.attempts == 2  # every attempt recorded


def attempts_of(engine, run_id):
    with Session(engine) as session:
        return [call.attempts for call in store.list_tool_calls(session, run_id=run_id)]


def execution_in_a_thread(ctx, run_id):
    """A thread (not started) that executes `call_a`, and the list its outcome goes to."""
    outcomes = []
    thread = threading.Thread(
        target=lambda: outcomes.append(execute_tool_call(ctx, run_id, "call_a"))
    )
    return thread, outcomes


def test_the_decisive_rerun_waits_until_it_is_alone_in_its_worker(engine, caplog):
    # Given an idempotent call interrupted once, with one attempt left before a verdict
    ctx, run_id = interrupted_call(engine, "get_weather")
    ctx = replace(ctx, max_deliveries=2)
    rerun, outcomes = execution_in_a_thread(ctx, run_id)
    # When it is re-run while another call is running in the same worker
    with ctx.solo.shared():
        rerun.start()
        time.sleep(0.3)
        # Then it waits, unclaimed: a crash now is not counted against it
        assert outcomes == [] and attempts_of(engine, run_id) == [1]
        # and the worker's log says why
        assert "attempt 2 of 2 of get_weather runs alone in this worker" in caplog.text
        assert "waiting for 1 running call(s)" in caplog.text
    # and it runs once the other call is done
    rerun.join(10)
    assert [(o.status, o.ran_now) for o in outcomes] == [("succeeded", True)]
    assert attempts_of(engine, run_id) == [2]


def test_an_earlier_rerun_runs_beside_other_calls(engine):
    # Given an idempotent call interrupted once, with two attempts left (the default 3)
    ctx, run_id = interrupted_call(engine, "get_weather")
    rerun, outcomes = execution_in_a_thread(ctx, run_id)
    # When it is re-run while another call is running in the same worker
    with ctx.solo.shared():
        rerun.start()
        rerun.join(10)
        # Then it ran at once: a crash that interrupted many calls does not queue them all
        assert [(o.status, o.ran_now) for o in outcomes] == [("succeeded", True)]
    assert attempts_of(engine, run_id) == [2]


def test_a_first_execution_waits_while_a_rerun_runs_alone(engine):
    provider = scripted([st(S.REQUIRES_TOOLS, tool_calls=(WEATHER,))])
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine)
    start_run(ctx, run_id)
    first, outcomes = execution_in_a_thread(ctx, run_id)
    with ctx.solo.alone():  # a re-run of another call is running
        first.start()
        time.sleep(0.3)
        assert outcomes == [] and attempts_of(engine, run_id) == [0]  # not claimed yet
    first.join(10)
    assert [(o.status, o.ran_now) for o in outcomes] == [("succeeded", True)]


def test_malformed_arguments_and_unknown_tools_become_error_outputs(engine):
    bad_args = ToolCallRequest("call_x", "get_weather", '{"location": "Paris"')
    forbidden = ToolCallRequest("call_y", "delete_everything", "{}")
    provider = scripted([st(S.REQUIRES_TOOLS, tool_calls=(bad_args, forbidden))])
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine)
    start_run(ctx, run_id)
    assert execute_tool_call(ctx, run_id, "call_x").status == "failed"
    assert execute_tool_call(ctx, run_id, "call_y").status == "failed"
    with Session(engine) as session:
        x, y = store.list_tool_calls(session, run_id=run_id)
    assert json.loads(x.output)["error"]["type"] == "InvalidToolArguments"
    assert json.loads(y.output)["error"]["type"] == "UnknownTool"


def test_a_failed_model_turn_fails_the_run_with_the_reason(engine):
    provider = scripted([st(S.QUEUED), st(S.FAILED, error="server_error: scripted #fail")])
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine)
    start_run(ctx, run_id)
    assert isinstance(poll_run(ctx, run_id, 1), Nothing)
    run = load(engine, run_id)
    assert run.status == "failed" and "server_error: scripted #fail" in run.error


def test_transient_errors_retry_then_fail_with_the_reason(engine):
    provider = scripted([ProviderUnavailable("503 overloaded")] * 3)
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine)
    # the run is claimed (in its first turn) before the first create: retries name its step
    assert start_run(ctx, run_id) == Later(StepName.START, (run_id, 0), 1.0)
    assert load(engine, run_id).status == "in_progress"
    assert isinstance(start_run(ctx, run_id), Nothing)  # a plain start starts pending runs only
    # each try of a claimed start takes a new step (a redelivered copy finds it taken)
    assert start_run(ctx, run_id, 0) == Later(StepName.START, (run_id, 1), 2.0)
    assert isinstance(start_run(ctx, run_id, 0), Nothing)
    assert isinstance(start_run(ctx, run_id, 1), Nothing)
    run = load(engine, run_id)
    assert run.status == "failed"
    assert run.error == "provider unavailable after 3 attempts: 503 overloaded"


def test_rate_limited_calls_wait_without_counting_attempts(engine):
    provider = scripted([ProviderRateLimited("429", retry_after_s=1.5), st(S.QUEUED)])
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine)
    assert start_run(ctx, run_id) == Later(StepName.START, (run_id, 0), 1.5)
    assert load(engine, run_id).attempts == 0
    assert isinstance(start_run(ctx, run_id, 0), Later)
    assert load(engine, run_id).status == "in_progress"


def test_quota_errors_fail_at_once(engine):
    provider = scripted(
        [ProviderRejected("insufficient_quota: add credit", code="insufficient_quota")]
    )
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine)
    start_run(ctx, run_id)
    run = load(engine, run_id)
    assert run.status == "failed" and "insufficient_quota" in run.error


def test_a_submit_that_must_retry_gives_the_run_back(engine):
    provider = scripted(
        [
            st(S.REQUIRES_TOOLS, tool_calls=(WEATHER,)),
            ProviderUnavailable("502"),
            st(S.QUEUED, ref="resp_2"),
        ]
    )
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine)
    start_run(ctx, run_id)
    execute_tool_call(ctx, run_id, "call_a")
    assert submit_outputs(ctx, run_id, 1) == Later(StepName.SUBMIT, (run_id, 1), 1.0)
    assert load(engine, run_id).status == "requires_tools"
    assert isinstance(submit_outputs(ctx, run_id, 1), Later)
    assert load(engine, run_id).status == "in_progress"
    assert isinstance(submit_outputs(ctx, run_id, 1), Nothing)  # duplicate callback


def test_a_submit_that_keeps_failing_counts_its_attempts_then_fails(engine):
    provider = scripted(
        [st(S.REQUIRES_TOOLS, tool_calls=(WEATHER,))] + [ProviderUnavailable("502")] * 3
    )
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine)
    start_run(ctx, run_id)
    execute_tool_call(ctx, run_id, "call_a")
    assert submit_outputs(ctx, run_id, 1) == Later(StepName.SUBMIT, (run_id, 1), 1.0)
    assert submit_outputs(ctx, run_id, 1) == Later(StepName.SUBMIT, (run_id, 1), 2.0)
    # The last attempt fails the run (nothing to give back)
    assert submit_outputs(ctx, run_id, 1) == Nothing(
        "provider unavailable after 3 attempts: 502", ended=RunStatus.FAILED
    )
    run = load(engine, run_id)
    assert (run.status, run.error) == ("failed", "provider unavailable after 3 attempts: 502")


def test_a_run_past_its_deadline_expires_and_is_cancelled_upstream(engine):
    provider = scripted([st(S.QUEUED), st(S.IN_PROGRESS), st(S.CANCELLED)])
    clock = Clock()
    ctx = make_context(engine, provider, clock)
    run_id = insert_run(engine, deadline_s=10)
    start_run(ctx, run_id)
    clock.advance(11)
    assert isinstance(poll_run(ctx, run_id, 1), Nothing)
    run = load(engine, run_id)
    assert run.status == "expired" and provider.methods()[-1] == "cancel"


def test_an_unknown_agent_is_a_clear_error(engine):
    from workers.errors import UnknownAgent

    ctx = make_context(engine, scripted([]), Clock())
    run_id = insert_run(engine, agent="no-such-agent")
    with pytest.raises(UnknownAgent, match=r"known agents: .*assistant"):
        start_run(ctx, run_id)


def test_an_answer_that_fails_its_schema_is_sent_back_once_then_accepted(engine):
    from workers.agents import Agent, register_agent

    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    register_agent(Agent(name="strict-once", model="m", output_schema=schema, output_retries=1))
    provider = scripted(
        [
            st(S.QUEUED),
            st(S.COMPLETED, output_text="{}", usage=Usage(10, 2)),
            st(S.QUEUED, ref="resp_2"),
            st(S.COMPLETED, ref="resp_2", output_text='{"city": "Oslo"}', usage=Usage(20, 4)),
        ]
    )
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine, agent="strict-once")
    start_run(ctx, run_id)
    # The correction takes step 2 before its request; the corrected turn's poll is step 3.
    assert poll_run(ctx, run_id, 1) == Later(StepName.POLL, (run_id, 3), 0.5)
    assert isinstance(poll_run(ctx, run_id, 1), Nothing)  # a copy of the poll that asked
    assert isinstance(poll_run(ctx, run_id, 2), Nothing)  # the correction's own step: taken
    assert poll_run(ctx, run_id, 3) == Nothing("completed")
    run = load(engine, run_id)
    assert (run.status, run.result_json, run.output_retries_used) == (
        "completed",
        '{"city": "Oslo"}',
        1,
    )
    assert (run.input_tokens, run.output_tokens) == (30, 6)
    assert provider.methods() == ["create", "retrieve", "correct", "retrieve"]


def test_a_second_bad_answer_fails_the_run_with_the_validation_error(engine):
    from workers.agents import Agent, register_agent

    schema = {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}
    register_agent(Agent(name="strict-never", model="m", output_schema=schema))
    provider = scripted([st(S.QUEUED), st(S.COMPLETED, output_text='{"town": 1}')])
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine, agent="strict-never")
    start_run(ctx, run_id)
    poll_run(ctx, run_id, 1)
    run = load(engine, run_id)
    assert run.status == "failed"
    assert run.error == "answer does not match the schema: <root>: 'city' is a required property"


class MemoryTurnTimes:
    def __init__(self, recent=()):
        self.samples = list(recent)
        self.reads = 0

    def recent(self, model):
        self.reads += 1
        return tuple(self.samples)

    def record(self, model, duration_s):
        self.samples.insert(0, duration_s)


def test_polls_follow_recent_turns_and_finished_turns_are_remembered(engine):
    # Given a model whose recent turns took 1.5 to 2.5 s
    times = MemoryTurnTimes([1.5, 1.75, 2.0, 2.25, 2.5])
    provider = scripted(
        [
            st(S.QUEUED),
            st(S.IN_PROGRESS),
            st(S.COMPLETED, output_text="Sunny.", duration_s=2.2),
        ]
    )
    ctx = replace(make_context(engine, provider, Clock()), turn_times=times)
    run_id = insert_run(engine)

    # When the run starts and is polled: first at the 90th percentile, then past the slowest
    assert start_run(ctx, run_id) == Later(StepName.POLL, (run_id, 1), pytest.approx(2.4))
    assert poll_run(ctx, run_id, 1) == Later(StepName.POLL, (run_id, 2), pytest.approx(0.225))
    assert poll_run(ctx, run_id, 2) == Nothing("completed")

    # Then the finished turn's own duration joins the history; it was read only while running
    assert times.samples[0] == 2.2
    assert times.reads == 2


class ScarceRequests(NoLimits):
    """A budget whose requests ran short: every call may go, but requests are scarce."""

    def requests_scarce(self, *, model: str, api_key_id: str) -> bool:
        return True


def test_while_requests_are_scarce_a_turn_is_one_synchronous_request(engine):
    # Given a request budget that binds (polls would spend requests that creates need)
    provider = scripted([st(S.COMPLETED, output_text="Hi.")])
    ctx = make_context(engine, provider, Clock(), clearance=ScarceRequests())
    run_id = insert_run(engine)
    # When the run starts, its turn is created synchronously and answered with no poll
    assert start_run(ctx, run_id) == Nothing("completed")
    assert provider.calls[0].request.background is False


def test_with_requests_to_spare_a_turn_runs_in_the_background(engine):
    provider = scripted([st(S.QUEUED)])
    ctx = make_context(engine, provider, Clock())
    start_run(ctx, insert_run(engine))
    assert provider.calls[0].request.background is True


def test_a_tool_task_leaves_a_synchronous_submit_to_the_runs_queue(engine):
    # Given a run whose tools are done, and a request budget that binds by then
    provider = scripted(
        [st(S.QUEUED), st(S.REQUIRES_TOOLS, tool_calls=(WEATHER,)), st(S.QUEUED, ref="resp_2")]
    )
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine)
    start_run(ctx, run_id)
    poll_run(ctx, run_id, 1)
    assert execute_tool_call(ctx, run_id, "call_a").finished_turn == 1
    scarce = replace(ctx, clearance=ScarceRequests())
    # When the tool task submits the turn, the synchronous turn is handed to the runs queue
    assert submit_outputs(scarce, run_id, 1, quick_only=True) == Later(StepName.SUBMIT, (run_id, 1))
    assert [c.method for c in provider.calls] == ["create", "retrieve"]
    assert load(engine, run_id).status == RunStatus.REQUIRES_TOOLS
    # and a background turn is submitted by the tool task itself
    assert submit_outputs(ctx, run_id, 1, quick_only=True) == Later(StepName.POLL, (run_id, 3), 0.5)
    assert provider.calls[-1].method == "submit"


@pytest.mark.parametrize("tool_name", ["get_weather", "charge_card_test"])
def test_settling_an_interrupted_call_holds_one_connection_at_a_time(tmp_path, tool_name):
    # Given a pool of one connection (a worker's threads share a bounded pool: 16 threads
    # re-running a lost worker's calls, each holding two, exhausted it)
    from sqlalchemy.pool import QueuePool
    from sqlmodel import SQLModel, create_engine

    engine = create_engine(
        f"sqlite:///{tmp_path / 'one.db'}", poolclass=QueuePool, pool_size=1, max_overflow=0,
        pool_timeout=1,
    )  # fmt: skip
    SQLModel.metadata.create_all(engine)
    ctx, run_id = interrupted_call(engine, tool_name)
    # When the call is settled (re-run, or answered), no second connection is asked for
    outcome = execute_tool_call(ctx, run_id, "call_a")
    assert outcome.status == ("succeeded" if tool_name == "get_weather" else "failed")
    engine.dispose()


register_agent(Agent(name="steps-sync", model="m", tools=("get_weather",), sync_turns=True))


def test_a_tool_task_leaves_a_sync_turns_agents_submit_to_the_runs_queue(engine):
    provider = scripted([st(S.REQUIRES_TOOLS, tool_calls=(WEATHER,))])
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine, agent="steps-sync")
    assert isinstance(start_run(ctx, run_id), FanOut)  # a synchronous create asked for tools
    assert execute_tool_call(ctx, run_id, "call_a").finished_turn == 1
    assert submit_outputs(ctx, run_id, 1, quick_only=True) == Later(StepName.SUBMIT, (run_id, 1))
    assert [c.method for c in provider.calls] == ["create"]
