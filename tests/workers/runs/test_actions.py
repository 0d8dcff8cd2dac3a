"""Runs that wait: tool calls approved by a person, tools the caller runs, and waits that
run out. Steps against a scripted provider, on SQLite (and PostgreSQL in the integration
tier): no Redis, no Celery."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlmodel import Session

from tests.workers.steps_fixtures import NOW, Clock, insert_run, make_context
from workers.agents import ActionTimeout, Agent, register_agent
from workers.db import store
from workers.db.statuses import RunStatus, ToolCallStatus
from workers.errors import ActionConflict, BadToolOutputs, ToolCallNotFound
from workers.providers.fake import scripted
from workers.providers.interface import ProviderState, ProviderStatus, ToolCallRequest
from workers.runs import actions
from workers.runs.context import FanOut, Later, Nothing, StepName
from workers.runs.outcomes import cancel_run
from workers.runs.steps import poll_run, start_run, submit_outputs
from workers.runs.sweep import SweepPolicy, sweep_overdue_runs
from workers.runs.tool_calls import execute_tool_call
from workers.tools.registry import caller_tool, tool

S = ProviderStatus


@tool(needs_approval=lambda args: args["amount"] > 100)
def t18_refund(order_id: str, amount: int) -> dict[str, object]:
    """Refund an order."""
    return {"refunded": amount, "order_id": order_id}


caller_tool(
    "t18_lookup_order",
    "Look an order up in the caller's own system.",
    {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
)

GATED = register_agent(
    Agent(name="t18-gated", model="gpt-test", tools=("get_weather", "t18_refund"))
)
ALWAYS = register_agent(
    Agent(
        name="t18-always",
        model="gpt-test",
        tools=("get_weather",),
        approve_tools=("get_weather",),
        action_timeout_s=60,
    )
)
STRICT = register_agent(
    Agent(
        name="t18-strict",
        model="gpt-test",
        tools=("get_weather",),
        approve_tools=("get_weather",),
        action_timeout_s=60,
        on_action_timeout=ActionTimeout.FAIL,
    )
)
CALLER = register_agent(Agent(name="t18-caller", model="gpt-test", tools=("t18_lookup_order",)))

WEATHER = ToolCallRequest("call_w", "get_weather", '{"location": "Paris"}')
BIG_REFUND = ToolCallRequest("call_r", "t18_refund", '{"order_id": "o1", "amount": 500}')
SMALL_REFUND = ToolCallRequest("call_s", "t18_refund", '{"order_id": "o2", "amount": 5}')
LOOKUP_1 = ToolCallRequest("call_l1", "t18_lookup_order", '{"order_id": "o1"}')
LOOKUP_2 = ToolCallRequest("call_l2", "t18_lookup_order", '{"order_id": "o2"}')


def st(status, ref="resp_1", **fields):
    return ProviderState(status=status, ref=ref, **fields)


def waiting_run(engine, agent, calls, clock=None, extra=()):
    """A run whose first turn asked for `calls`, stepped up to where it waits."""
    clock = clock or Clock()
    provider = scripted(
        [
            st(S.QUEUED),
            st(S.REQUIRES_TOOLS, tool_calls=tuple(calls)),
            st(S.QUEUED, ref="resp_2"),
            st(S.COMPLETED, ref="resp_2", output_text="Done."),
            *extra,
        ]
    )
    ctx = make_context(engine, provider, clock)
    run_id = insert_run(engine, agent=agent)
    start_run(ctx, run_id)
    return ctx, provider, run_id, poll_run(ctx, run_id, 1)


def load(engine, run_id):
    with Session(engine) as session:
        run = store.get_run(session, run_id=run_id)
        calls = {c.call_id: c for c in store.list_tool_calls(session, run_id=run_id)}
        return run, calls


def test_a_call_that_needs_approval_parks_the_whole_turn_until_a_person_approves(engine):
    ctx, provider, run_id, waited = waiting_run(engine, GATED, [WEATHER, BIG_REFUND])

    # Nothing is sent while the turn waits: no message, no worker, no provider request.
    assert waited == Nothing("waiting for approval or the caller's tool outputs")
    run, calls = load(engine, run_id)
    assert run.status == RunStatus.REQUIRES_ACTION
    assert run.parked and run.next_due_at == run.deadline_at  # no timeout: the run's deadline
    assert calls["call_r"].status == ToolCallStatus.AWAITING_APPROVAL
    assert calls["call_w"].status == ToolCallStatus.PENDING  # runs with the turn, not before

    sent = actions.decide_call(ctx, run_id, "call_r", approve=True, by="key_1", reason="ok")

    assert sent == FanOut(run_id, 1, ("call_w", "call_r"))
    run, calls = load(engine, run_id)
    assert run.status == RunStatus.REQUIRES_TOOLS and not run.parked
    assert (calls["call_r"].decision, calls["call_r"].decided_by) == ("approved", "key_1")
    outcomes = [execute_tool_call(ctx, run_id, c) for c in sent.call_ids]
    assert [o.ran_now for o in outcomes] == [True, True]
    assert submit_outputs(ctx, run_id, 1) == Later(StepName.POLL, (run_id, 4), 0.5)
    submitted = {o.call_id: o.output for o in provider.calls[-1].outputs}
    assert json.loads(submitted["call_r"]) == {"refunded": 500, "order_id": "o1"}


def test_an_approval_is_taken_once_and_every_wrong_one_is_refused_with_its_reason(engine):
    ctx, _, run_id, _ = waiting_run(engine, ALWAYS, [WEATHER])

    with pytest.raises(ToolCallNotFound, match="no tool call 'call_x'"):
        actions.decide_call(ctx, run_id, "call_x", approve=True, by="")
    actions.decide_call(ctx, run_id, "call_w", approve=True, by="")
    with pytest.raises(ActionConflict, match="already approved"):
        actions.decide_call(ctx, run_id, "call_w", approve=False, by="", reason="changed my mind")

    _, calls = load(engine, run_id)
    assert calls["call_w"].decision == "approved" and calls["call_w"].status == "pending"


def test_a_rejected_call_never_runs_and_the_model_is_told_why(engine):
    ctx, provider, run_id, _ = waiting_run(engine, ALWAYS, [WEATHER])

    sent = actions.decide_call(ctx, run_id, "call_w", approve=False, by="", reason="not today")

    assert sent == Later(StepName.SUBMIT, (run_id, 1))
    _, calls = load(engine, run_id)
    assert calls["call_w"].status == ToolCallStatus.FAILED and calls["call_w"].attempts == 0
    submit_outputs(ctx, run_id, 1)
    told = json.loads(provider.calls[-1].outputs[0].output)
    assert told["error"] == {
        "type": "ToolCallRejected",
        "message": "a person rejected this tool call: not today",
    }


def test_a_predicate_lets_small_calls_through_without_a_person(engine):
    _, _, run_id, sent = waiting_run(engine, GATED, [SMALL_REFUND])

    assert sent == FanOut(run_id, 1, ("call_s",))


def test_nothing_is_decided_for_a_run_that_ended(engine):
    ctx, provider, run_id, _ = waiting_run(engine, ALWAYS, [WEATHER])
    provider.script.append(st(S.CANCELLED))
    cancel_run(ctx, run_id, reason="user left")

    with pytest.raises(ActionConflict, match="already ended cancelled"):
        actions.decide_call(ctx, run_id, "call_w", approve=True, by="")


def test_the_caller_submits_every_waiting_output_at_once_and_only_once(engine):
    ctx, provider, run_id, waited = waiting_run(engine, CALLER, [LOOKUP_1, LOOKUP_2])
    assert isinstance(waited, Nothing)
    _, calls = load(engine, run_id)
    assert {c.status for c in calls.values()} == {ToolCallStatus.AWAITING_OUTPUT}

    refusals = {
        "outputs missing for call_l2": (BadToolOutputs, [("call_l1", "a")]),
        "given twice: call_l1": (BadToolOutputs, [("call_l1", "a"), ("call_l1", "b")]),
        "no tool call call_zz": (ToolCallNotFound, [("call_l1", "a"), ("call_zz", "b")]),
    }
    for message, (error, outputs) in refusals.items():
        with pytest.raises(error, match=message):
            actions.submit_outputs(ctx, run_id, outputs, by="key_1")
    assert load(engine, run_id)[0].status == RunStatus.REQUIRES_ACTION  # nothing half-taken

    sent = actions.submit_outputs(ctx, run_id, [("call_l2", "B"), ("call_l1", "A")], by="key_1")

    assert sent == Later(StepName.SUBMIT, (run_id, 1))
    with pytest.raises(ActionConflict, match="does not wait for tool outputs"):
        actions.submit_outputs(ctx, run_id, [("call_l1", "A"), ("call_l2", "B")], by="key_1")
    submit_outputs(ctx, run_id, 1)
    assert {o.call_id: o.output for o in provider.calls[-1].outputs} == {
        "call_l1": "A",
        "call_l2": "B",
    }


def test_tools_the_run_s_creator_supplies_are_offered_to_the_model_and_wait_for_the_caller(
    engine,
):
    clock = Clock()
    provider = scripted(
        [st(S.REQUIRES_TOOLS, tool_calls=(ToolCallRequest("c1", "crm_note", "{}"),))]
    )
    ctx = make_context(engine, provider, clock)
    run_id = insert_run(engine, agent=GATED)
    declared = [{"name": "crm_note", "description": "Note it.", "parameters": {"type": "object"}}]
    with Session(engine) as session:
        run = store.get_run(session, run_id=run_id)
        run.caller_tools = json.dumps(declared)
        session.add(run)
        session.commit()

    assert start_run(ctx, run_id) == Nothing("waiting for approval or the caller's tool outputs")

    offered = [t["name"] for t in provider.calls[0].request.tools]
    assert offered == ["get_weather", "t18_refund", "crm_note"]
    assert load(engine, run_id)[1]["c1"].status == ToolCallStatus.AWAITING_OUTPUT


def test_a_wait_that_runs_out_answers_the_calls_as_not_run_when_the_agent_says_reject(engine):
    clock = Clock()
    ctx, _, run_id, _ = waiting_run(engine, ALWAYS, [WEATHER], clock=clock)
    run, _ = load(engine, run_id)
    assert run.next_due_at == NOW + timedelta(seconds=60)

    clock.advance(59)
    assert sweep_overdue_runs(ctx, SweepPolicy()) == []
    clock.advance(2)
    sent = sweep_overdue_runs(ctx, SweepPolicy())

    assert sent == [Later(StepName.SUBMIT, (run_id, 1))]
    _, calls = load(engine, run_id)
    assert json.loads(calls["call_w"].output)["error"]["type"] == "ToolCallTimedOut"
    assert calls["call_w"].error == "timed out waiting for approval"


def test_a_wait_that_runs_out_fails_the_run_when_the_agent_says_fail(engine):
    clock = Clock()
    ctx, _, run_id, _ = waiting_run(engine, STRICT, [WEATHER], clock=clock, extra=[st(S.CANCELLED)])
    clock.advance(61)

    assert sweep_overdue_runs(ctx, SweepPolicy()) == []

    run, _ = load(engine, run_id)
    assert run.status == RunStatus.FAILED
    assert run.error == "no approval or output came within 60s for tool calls call_w"


@pytest.mark.integration
def test_of_two_approvals_sent_at_once_exactly_one_is_recorded_and_sends_the_tools(engine):
    # Two people press "approve" on the same call, and the two last calls of a turn are
    # approved by two requests at once: the turn's tools are sent exactly once.
    if engine.dialect.name != "postgresql":
        pytest.skip("in-memory SQLite shares one connection between threads; no real race")
    for _ in range(5):
        ctx, _, run_id, _ = waiting_run(
            engine,
            GATED,
            [BIG_REFUND, ToolCallRequest("call_r2", "t18_refund", BIG_REFUND.arguments)],
        )
        results: list[object] = []
        start = threading.Barrier(3)

        def approve(call_id, ctx=ctx, run_id=run_id, start=start, results=results):
            start.wait()
            try:
                results.append(actions.decide_call(ctx, run_id, call_id, approve=True, by=""))
            except ActionConflict as exc:
                results.append(exc)

        threads = [
            threading.Thread(target=approve, args=(c,)) for c in ("call_r", "call_r", "call_r2")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert sum(isinstance(r, ActionConflict) for r in results) == 1
        assert sum(isinstance(r, FanOut) for r in results) == 1
        assert load(engine, run_id)[0].status == RunStatus.REQUIRES_TOOLS
