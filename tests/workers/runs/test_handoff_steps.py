"""Handoffs and guardrails as steps: a run handed to another agent goes on with that agent's
instructions, tools and model; a guardrail that trips ends the run with its name and output.
Steps against a scripted provider on SQLite: no Redis, no Celery."""

from __future__ import annotations

import json
from dataclasses import replace

from sqlmodel import Session

from tests.workers.steps_fixtures import Clock, insert_run, make_context
from workers.agents import Agent, check_handoffs, register_agent
from workers.db import store
from workers.db.statuses import RunStatus, ToolCallStatus
from workers.guardrails import Guardrail, Tripped, current_meter
from workers.limits.clearance import NoLimits
from workers.providers.fake import scripted
from workers.providers.interface import ProviderState, ProviderStatus, ToolCallRequest, Usage
from workers.runs import handoffs
from workers.runs.budget_guard import OverBudget
from workers.runs.context import FanOut, Later, Nothing, StepName
from workers.runs.steps import poll_run, start_run, submit_outputs
from workers.runs.tool_calls import execute_tool_call

S = ProviderStatus

BILLING = register_agent(
    Agent(
        name="t20-billing",
        model="gpt-billing",
        instructions="You handle billing.",
        tools=("get_weather",),
        handoff_description="Questions about invoices.",
    )
)
TRIAGE = register_agent(
    Agent(
        name="t20-triage",
        model="gpt-triage",
        instructions="You route questions.",
        tools=("get_weather",),
        handoffs=("t20-billing",),
    )
)


def no_passwords(text: str) -> Tripped | None:
    return Tripped({"reason": "holds a password"}) if "password" in text else None


def not_rude(text: str) -> Tripped | None:
    return Tripped("the answer is rude") if "stupid" in text else None


def broken(text: str) -> Tripped | None:
    raise ValueError("classifier unavailable")


GUARDED = register_agent(
    Agent(
        name="t20-guarded",
        model="gpt-test",
        input_guardrails=(Guardrail("no_passwords", no_passwords),),
        output_guardrails=(Guardrail("not_rude", not_rude),),
    )
)
BROKEN = register_agent(
    Agent(name="t20-broken", model="gpt-test", input_guardrails=(Guardrail("broken", broken),))
)
WEATHER = ToolCallRequest("call_w", "get_weather", '{"location": "Paris"}')


def st(status, ref="resp_1", **fields):
    return ProviderState(status=status, ref=ref, **fields)


def load(engine, run_id):
    with Session(engine) as session:
        run = store.get_run(session, run_id=run_id)
        calls = {c.call_id: c for c in store.list_tool_calls(session, run_id=run_id)}
        return run, calls


def test_the_model_sees_one_transfer_tool_per_handoff_with_the_sdk_name(engine):
    check_handoffs()
    provider = scripted([st(S.QUEUED)])
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine, agent=TRIAGE)

    start_run(ctx, run_id)

    request = provider.calls[0].request
    names = [t["name"] for t in request.tools]
    assert names == ["get_weather", "transfer_to_t20_billing"]
    transfer = request.tools[1]
    assert transfer["description"] == (
        "Handoff to the t20-billing agent to handle the request. Questions about invoices."
    )


def test_a_handoff_alone_is_answered_by_runq_and_the_next_turn_is_the_new_agents(engine):
    call = ToolCallRequest("call_h", handoffs.tool_name("t20-billing"), "{}")
    provider = scripted(
        [
            st(S.QUEUED),
            st(S.REQUIRES_TOOLS, tool_calls=(call,)),
            st(S.QUEUED, ref="resp_2"),
        ]
    )
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine, agent=TRIAGE)
    start_run(ctx, run_id)

    # No tools worker is asked: the handoff's output is runq's, and the submit is owed now.
    assert poll_run(ctx, run_id, 1) == Later(StepName.SUBMIT, (run_id, 1))
    run, calls = load(engine, run_id)
    assert calls["call_h"].status == ToolCallStatus.SUCCEEDED
    assert json.loads(calls["call_h"].output) == {"assistant": "t20-billing"}
    assert run.agent == "t20-triage"  # the handoff takes effect with the submit

    submit_outputs(ctx, run_id, 1)

    submitted = provider.calls[-1]
    assert submitted.method == "submit"
    assert submitted.request.instructions == "You handle billing."
    assert submitted.request.model == "gpt-billing"
    assert [t["name"] for t in submitted.request.tools] == ["get_weather"]
    run, _ = load(engine, run_id)
    assert (run.agent, run.model, run.status) == ("t20-billing", "gpt-billing", "in_progress")


def test_a_handoff_beside_a_tool_call_waits_for_the_tool_and_a_second_handoff_is_ignored(engine):
    call = ToolCallRequest("call_h", handoffs.tool_name("t20-billing"), "{}")
    again = ToolCallRequest("call_h2", handoffs.tool_name("t20-billing"), "{}")
    provider = scripted(
        [
            st(S.QUEUED),
            st(S.REQUIRES_TOOLS, tool_calls=(WEATHER, call, again)),
            st(S.QUEUED, ref="resp_2"),
        ]
    )
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine, agent=TRIAGE)
    start_run(ctx, run_id)

    assert poll_run(ctx, run_id, 1) == FanOut(run_id, 1, ("call_w",))
    _, calls = load(engine, run_id)
    assert calls["call_h2"].output == handoffs.IGNORED_OUTPUT
    # The old agent's tool call of the same turn still runs as the old agent's.
    assert execute_tool_call(ctx, run_id, "call_w").ran_now
    submit_outputs(ctx, run_id, 1)

    run, calls = load(engine, run_id)
    assert run.agent == "t20-billing"
    assert calls["call_w"].status == ToolCallStatus.SUCCEEDED
    assert {o.call_id for o in provider.calls[-1].outputs} == {"call_w", "call_h", "call_h2"}


def test_an_input_guardrail_that_trips_ends_the_run_before_any_model_request(engine):
    provider = scripted([])
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine, agent=GUARDED, input_text="my password is hunter2")

    assert start_run(ctx, run_id) == Nothing(
        'guardrail \'no_passwords\' tripped: {"reason": "holds a password"}',
        ended=RunStatus.FAILED,
    )
    run, _ = load(engine, run_id)
    assert run.status == RunStatus.FAILED
    assert run.error == 'guardrail \'no_passwords\' tripped: {"reason": "holds a password"}'
    assert provider.calls == []


def test_a_guardrail_that_raises_stops_the_run_and_says_which_and_why(engine):
    ctx = make_context(engine, scripted([]), Clock())
    run_id = insert_run(engine, agent=BROKEN)

    start_run(ctx, run_id)

    run, _ = load(engine, run_id)
    assert run.status == RunStatus.FAILED
    assert run.error == "guardrail 'broken' raised ValueError: classifier unavailable"


def test_an_output_guardrail_that_trips_fails_the_run_instead_of_completing_it(engine):
    provider = scripted([st(S.QUEUED), st(S.COMPLETED, output_text="That is a stupid question.")])
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine, agent=GUARDED, input_text="hello")
    start_run(ctx, run_id)

    poll_run(ctx, run_id, 1)

    run, _ = load(engine, run_id)
    assert run.status == RunStatus.FAILED
    assert run.error == "guardrail 'not_rude' tripped: the answer is rude"
    assert run.result_text is None


def test_an_answer_that_passes_the_output_guardrail_completes(engine):
    provider = scripted([st(S.QUEUED), st(S.COMPLETED, output_text="Hello there.")])
    ctx = make_context(engine, provider, Clock())
    run_id = insert_run(engine, agent=GUARDED, input_text="hello")
    start_run(ctx, run_id)

    poll_run(ctx, run_id, 1)

    run, _ = load(engine, run_id)
    assert (run.status, run.result_text) == (RunStatus.COMPLETED, "Hello there.")


class RecordingBudgets:
    """Dollar budgets that refuse holds past `room` micro-requests and record every call."""

    def __init__(self, refuse: str | None = None) -> None:
        self.refuse = refuse
        self.calls: list[tuple] = []

    def hold(self, session, run, agent, hold_id, prompt_tokens, *, side_model=None):
        self.calls.append(("hold", hold_id, prompt_tokens, side_model))
        return None if self.refuse is None else OverBudget(self.refuse)

    def settle(self, run, agent, hold_id, usage, *, side_model=None):
        self.calls.append(("settle", hold_id, usage, side_model))


def asks_a_model(text: str) -> Tripped | None:
    """A guardrail that makes a model request of its own, through the run's meter."""
    meter = current_meter()
    assert meter is not None
    hold = meter.before("gpt-guard", 40)
    if hold is None:
        raise RuntimeError("refused")
    meter.after(hold, "gpt-guard", 30, 4)
    return None


ASKING = register_agent(
    Agent(name="t20-asking", model="gpt-test", input_guardrails=(Guardrail("ask", asks_a_model),))
)


def test_a_guardrails_model_request_is_held_and_settled_on_the_runs_budgets(engine):
    budgets = RecordingBudgets()
    provider = scripted([st(S.QUEUED)])
    ctx = replace(make_context(engine, provider, Clock()), budgets=budgets)
    run_id = insert_run(engine, agent=ASKING)

    start_run(ctx, run_id)

    guardrail_calls = [c for c in budgets.calls if c[3] == "gpt-guard"]
    assert [(c[0], c[2]) for c in guardrail_calls] == [("hold", 40), ("settle", Usage(30, 4))]
    hold_id = guardrail_calls[0][1]
    assert hold_id.startswith(f"{run_id}:guardrail:") and guardrail_calls[1][1] == hold_id
    assert provider.methods() == ["create"]  # then the run's own first turn


def test_a_guardrails_model_request_over_budget_fails_the_run_before_its_first_turn(engine):
    budgets = RecordingBudgets(refuse="budget: run max_cost_usd $0.01 would be passed")
    provider = scripted([])
    ctx = replace(make_context(engine, provider, Clock()), budgets=budgets)
    run_id = insert_run(engine, agent=ASKING)

    start_run(ctx, run_id)

    run, _ = load(engine, run_id)
    assert run.status == RunStatus.FAILED
    assert run.error == "guardrail 'ask': budget: run max_cost_usd $0.01 would be passed"
    assert provider.calls == []


class ThrottledClearance(NoLimits):
    """A rate limit with no room for the guardrail's model: wait 2.5 s."""

    def wait_s(self, *, model, api_key_id, tokens, holder=None):
        return 2.5 if model == "gpt-guard" else 0.0


def test_a_guardrails_request_that_must_wait_for_the_rate_limit_retries_the_step_later(engine):
    budgets = RecordingBudgets()
    provider = scripted([])
    ctx = replace(
        make_context(engine, provider, Clock()), budgets=budgets, clearance=ThrottledClearance()
    )
    run_id = insert_run(engine, agent=ASKING)

    # No sleep on the worker: the start goes again once the limit has room
    assert start_run(ctx, run_id) == Later(StepName.START, (run_id,), 2.5)

    run, _ = load(engine, run_id)
    assert run.status == RunStatus.PENDING
    assert provider.calls == []
    [hold, release] = budgets.calls
    assert (hold[0], release[0], release[2]) == ("hold", "settle", Usage())  # released, free
