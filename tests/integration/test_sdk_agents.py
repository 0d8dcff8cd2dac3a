"""An unchanged Agents SDK agent (a function tool, an output type, a handoff, guardrails) run
once by the SDK's own `Runner.run` and once durably by runq's fleet, against the simulator:
the same tool calls in the same order, the same final output."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bench.chaos_agents import EXECUTIONS_FILE_ENV
from tests.integration.fleet import enqueue_batch, wait_for_batch
from workers import wiring
from workers.db import store
from workers.sdk_agents import adopt_module_agents

agents = pytest.importorskip("agents", reason="the openai-agents extra is not installed")
sdk_agents = pytest.importorskip("tests.integration.sdk_agents")
adopt_module_agents(sdk_agents)  # this process enqueues, as the fleet's workers adopt them

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def question(invoice_id: str) -> str:
    """A question the scripted model answers by a handoff to billing, then a lookup."""
    return (
        "#turns=2 Has my last invoice been paid? #call=transfer_to_sdk_billing "
        f'#call=sdk_lookup_invoice {{"invoice_id": "{invoice_id}"}}'
    )


QUESTION = question("inv_7")


def run_with_the_sdk(fleet, question: str):
    """The SDK's own loop, in this process, against the fleet's simulator."""
    from openai import AsyncOpenAI

    async def run() -> agents.RunResult:
        async with AsyncOpenAI(base_url=fleet.env["OPENAI_BASE_URL"], api_key="sk-sdk") as client:
            model = agents.OpenAIResponsesModel(model="gpt-test", openai_client=client)
            config = agents.RunConfig(model=model, tracing_disabled=True)
            return await agents.Runner.run(sdk_agents.triage, question, run_config=config)

    return asyncio.run(run())


def run_with_runq(question: str):
    batch_id = enqueue_batch([question], agent="sdk_triage")
    wait_for_batch(batch_id, 1, timeout_s=60)
    with wiring.new_session() as session:
        [run] = store.list_runs(session, batch_id=batch_id)
        calls = store.list_tool_calls(session, run_id=run.id)
    return run, calls


def executions(fleet) -> list[str]:
    lines = Path(fleet.env[EXECUTIONS_FILE_ENV]).read_text().splitlines()
    return [line.split()[1] for line in lines if line.startswith("sdk_lookup_invoice ")]


def sdk_transcript(result) -> list[tuple[str, str]]:
    calls = []
    for item in result.new_items:
        if isinstance(item, agents.ToolCallItem | agents.HandoffCallItem):
            calls.append((item.raw_item.name, item.raw_item.arguments or "{}"))
    return calls


def test_runq_runs_an_unchanged_sdk_agent_to_the_same_transcript_and_final_output(fleet):
    expected = run_with_the_sdk(fleet, QUESTION)
    run, calls = run_with_runq(QUESTION)

    assert run.status == "completed", f"{run.status}: {run.error}"
    ran = [(c.name, c.arguments) for c in sorted(calls, key=lambda c: (c.turn, c.id))]
    assert [(n, json.loads(a)) for n, a in ran] == [
        (n, json.loads(a)) for n, a in sdk_transcript(expected)
    ]
    assert [n for n, _ in ran] == ["transfer_to_sdk_billing", "sdk_lookup_invoice"]
    # The handoff is a recorded transition: the run ended with the billing agent.
    assert (run.agent, expected.last_agent.name) == ("sdk_billing", "sdk_billing")
    assert json.loads(run.result_json) == expected.final_output.model_dump()
    # The tool ran on a tools worker, once, with the SDK's own function.
    [lookup] = [c for c in calls if c.name == "sdk_lookup_invoice"]
    assert lookup.status == "succeeded" and lookup.output.startswith("invoice inv_7: 42 EUR")


def test_an_input_guardrail_trips_in_runq_as_in_the_sdk(fleet):
    question = "My password is hunter2, is my invoice paid?"
    with pytest.raises(agents.InputGuardrailTripwireTriggered):
        run_with_the_sdk(fleet, question)

    run, calls = run_with_runq(question)

    assert run.status == "failed"
    assert run.error == 'guardrail \'no_passwords\' tripped: {"found": "password"}'
    assert calls == []


def test_a_guardrails_own_model_request_counts_against_the_runs_dollar_budget(fleet):
    # A budget too small for the guardrail's request: it is never sent, the run fails
    tiny = enqueue_batch(["Is invoice inv_7 paid?"], agent="sdk_checked", max_cost_usd=0.000001)
    # A budget with room: the guardrail asks its model, then the run answers
    roomy = enqueue_batch(["Is invoice inv_7 paid?"], agent="sdk_checked", max_cost_usd=5.0)
    wait_for_batch(tiny, 1, timeout_s=60)
    wait_for_batch(roomy, 1, timeout_s=60)

    with wiring.new_session() as session:
        [refused] = store.list_runs(session, batch_id=tiny)
        [answered] = store.list_runs(session, batch_id=roomy)
    assert refused.status == "failed"
    assert refused.error.startswith("guardrail 'billing_topic': budget:"), refused.error
    assert answered.status == "completed", answered.error
