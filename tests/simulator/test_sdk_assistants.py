"""The legacy Assistants API through the official SDK, with strict response validation on.

Every `client.beta` Assistants method is marked deprecated and warns on each call (with one of
two messages, "The Assistants API is deprecated in favor of the Responses API" or just
"deprecated"). The suite turns warnings into errors, so the markers below let exactly those two
DeprecationWarnings through, and `test_the_sdk_warns_about_the_assistants_api` proves they are
real.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from openai.types.beta.threads import Run, TextContentBlock

from tests.simulator.sim import Sim
from tests.simulator.test_sdk_chat import TOOLS

pytestmark = [
    pytest.mark.filterwarnings("ignore:The Assistants API is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:deprecated$:DeprecationWarning"),
]
MODEL = "gpt-5.4-mini"


def assistant_id(sim: Sim, **options: Any) -> str:
    settings: dict[str, Any] = {"model": MODEL, "tools": TOOLS, "instructions": "Be brief."}
    return sim.client.beta.assistants.create(**{**settings, **options}).id


def start(sim: Sim, text: str, **options: Any) -> Run:
    """A run on a new thread holding one user message (create_and_run)."""
    run: Run = sim.client.beta.threads.create_and_run(
        assistant_id=assistant_id(sim),
        thread={"messages": [{"role": "user", "content": text}]},
        **options,
    )
    return run


def poll(sim: Sim, run: Run, advance_s: float = 1.0) -> Run:
    sim.clock.advance(advance_s)
    return sim.client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)


def answer_all(sim: Sim, run: Run, output: str = "18C") -> Run:
    assert run.required_action is not None
    calls = run.required_action.submit_tool_outputs.tool_calls
    return sim.client.beta.threads.runs.submit_tool_outputs(
        run.id,
        thread_id=run.thread_id,
        tool_outputs=[{"tool_call_id": call.id, "output": output} for call in calls],
    )


def texts(sim: Sim, thread_id: str, **filters: Any) -> list[tuple[str, str]]:
    page = sim.client.beta.threads.messages.list(thread_id=thread_id, order="asc", **filters)
    shown: list[tuple[str, str]] = []
    for message in page.data:
        block = message.content[0]
        assert isinstance(block, TextContentBlock)
        shown.append((message.role, block.text.value))
    return shown


def test_the_sdk_warns_about_the_assistants_api(sim: Sim) -> None:
    with pytest.warns(DeprecationWarning, match="^deprecated$"):
        sim.client.beta.assistants.list()
    with pytest.warns(DeprecationWarning, match="Assistants API is deprecated"):
        sim.client.beta.threads.create()


def test_tool_round_trip(sim: Sim) -> None:
    # Given a run that asks for the weather in two places
    run = start(sim, "weather in Paris and Rome")
    assert (run.status, run.instructions, run.usage) == ("queued", "Be brief.", None)
    assert run.expires_at == run.created_at + 600

    # When time passes, polls see it start and then stop for tool outputs
    sim.clock.advance(0.5)
    raw = sim.client.beta.threads.runs.with_raw_response.retrieve(run.id, thread_id=run.thread_id)
    assert raw.headers["openai-poll-after-ms"] == "500"
    assert raw.parse().status == "in_progress"
    run = poll(sim, run, 0.5)
    assert run.status == "requires_action" and run.required_action is not None
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [(call.function.name, json.loads(call.function.arguments)) for call in calls] == [
        ("get_weather", {"location": "Paris"}),
        ("get_weather", {"location": "Rome"}),
    ]
    assert all(call.id.startswith("call_") and call.type == "function" for call in calls)

    # Then submitting every output queues it again, and it completes with a message
    run = answer_all(sim, run)
    assert run.status == "queued" and run.required_action is None
    run = poll(sim, run)
    assert run.status == "completed" and run.completed_at and run.started_at
    assert run.usage is not None and run.usage.total_tokens > 0
    assert texts(sim, run.thread_id) == [
        ("user", "weather in Paris and Rome"),
        ("assistant", "Here is what I found: 18C; 18C"),
    ]
    assert texts(sim, run.thread_id, run_id=run.id) == [
        ("assistant", "Here is what I found: 18C; 18C")
    ]

    stats = sim.stats()
    assert (stats["assistant_runs_created"], stats["assistant_runs_retrieved"]) == (1, 3)
    assert stats["assistant_tool_outputs_submitted"] == 2


def test_steps_record_the_tool_round_and_the_message(sim: Sim) -> None:
    run = poll(sim, answer_all(sim, poll(sim, start(sim, "weather in Oslo"))))
    steps = sim.client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id, order="asc")
    assert [(step.type, step.status) for step in steps.data] == [
        ("tool_calls", "completed"),
        ("message_creation", "completed"),
    ]
    tool_step = steps.data[0].step_details
    assert tool_step.type == "tool_calls"
    assert [call.function.output for call in tool_step.tool_calls] == ["18C"]  # type: ignore[union-attr]


def test_run_on_an_existing_thread_with_overrides(sim: Sim) -> None:
    beta = sim.client.beta
    thread = beta.threads.create(
        messages=[{"role": "user", "content": "hello"}], metadata={"job": "7"}
    )
    assert beta.threads.retrieve(thread.id).metadata == {"job": "7"}
    run = beta.threads.runs.create(
        thread.id,
        assistant_id=assistant_id(sim),
        model="gpt-5.4",
        instructions="Override.",
        additional_instructions="Also this.",
        additional_messages=[{"role": "user", "content": "and more"}],
        metadata={"run": "1"},
        tools=[],
    )
    assert (run.model, run.instructions) == ("gpt-5.4", "Override.\nAlso this.")
    assert (run.tools, run.metadata) == ([], {"run": "1"})
    run = poll(sim, run)
    assert run.status == "completed"
    assert texts(sim, thread.id)[-2:] == [("user", "and more"), ("assistant", "Echo: and more")]
    listed = beta.threads.runs.list(thread.id)
    assert [listed_run.id for listed_run in listed.data] == [run.id]


def test_a_thread_with_an_active_run_is_locked(sim: Sim) -> None:
    run = start(sim, "weather in Oslo")
    beta = sim.client.beta
    with pytest.raises(openai.BadRequestError) as second:
        beta.threads.runs.create(run.thread_id, assistant_id=run.assistant_id)
    assert second.value.message.endswith(
        f"Thread {run.thread_id} already has an active run {run.id}."
    )
    with pytest.raises(openai.BadRequestError) as message:
        beta.threads.messages.create(run.thread_id, role="user", content="more")
    assert message.value.message.endswith(
        f"Can't add messages to {run.thread_id} while a run {run.id} is active."
    )
    # requires_action still holds the thread; a finished run frees it
    run = poll(sim, run)
    assert run.status == "requires_action"
    with pytest.raises(openai.BadRequestError):
        beta.threads.messages.create(run.thread_id, role="user", content="more")
    answer_all(sim, run)
    sim.clock.advance(1)
    beta.threads.messages.create(run.thread_id, role="user", content="thanks")


def test_submit_must_answer_every_call(sim: Sim) -> None:
    run = poll(sim, start(sim, "weather in Paris and Rome"))
    assert run.required_action is not None
    first = run.required_action.submit_tool_outputs.tool_calls[0]
    with pytest.raises(openai.BadRequestError) as caught:
        sim.client.beta.threads.runs.submit_tool_outputs(
            run.id,
            thread_id=run.thread_id,
            tool_outputs=[{"tool_call_id": first.id, "output": "x"}],
        )
    assert "Expected tool outputs for call_ids" in caught.value.message
    assert poll(sim, run, 0).status == "requires_action"


def test_submit_outside_requires_action_is_a_400(sim: Sim) -> None:
    run = start(sim, "weather in Paris")
    with pytest.raises(openai.BadRequestError) as caught:
        sim.client.beta.threads.runs.submit_tool_outputs(
            run.id,
            thread_id=run.thread_id,
            tool_outputs=[{"tool_call_id": "call_x", "output": "x"}],
        )
    assert 'Runs in status "queued" do not accept tool outputs.' in caught.value.message


def test_cancel_shows_cancelling_then_cancelled(sim: Sim) -> None:
    run = poll(sim, start(sim, "weather in Oslo"))
    cancelling = sim.client.beta.threads.runs.cancel(run.id, thread_id=run.thread_id)
    assert cancelling.status == "cancelling"
    cancelled = poll(sim, run, 0)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    assert cancelled.required_action is None
    with pytest.raises(openai.BadRequestError) as caught:
        sim.client.beta.threads.runs.cancel(run.id, thread_id=run.thread_id)
    assert "Cannot cancel run with status 'cancelled'." in caught.value.message
    steps = sim.client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id)
    assert [step.status for step in steps.data] == ["cancelled"]


def test_unanswered_calls_expire_at_the_deadline(sim: Sim) -> None:
    run = poll(sim, start(sim, "weather in Oslo"))
    assert run.status == "requires_action"
    run = poll(sim, run, 598.9)
    assert run.status == "requires_action"
    run = poll(sim, run, 0.1)
    assert run.status == "expired" and run.required_action is None
    steps = sim.client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id)
    assert [(step.status, step.expired_at) for step in steps.data] == [("expired", run.expires_at)]
    with pytest.raises(openai.BadRequestError) as caught:
        sim.client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=run.thread_id, tool_outputs=[{"tool_call_id": "c", "output": "late"}]
        )
    assert 'Runs in status "expired" do not accept tool outputs.' in caught.value.message


@pytest.mark.parametrize(
    ("text", "status"), [("hi #fail", "failed"), ("hi #incomplete", "incomplete")]
)
def test_failed_and_incomplete_runs(sim: Sim, text: str, status: str) -> None:
    run = poll(sim, start(sim, text))
    assert run.status == status
    if status == "failed":
        assert run.last_error is not None and run.last_error.code == "server_error"
        assert run.failed_at is not None
    else:
        assert run.incomplete_details is not None
        assert run.incomplete_details.reason == "max_completion_tokens"
    assert run.usage is not None


def test_run_response_format_gives_json(sim: Sim) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    run = start(
        sim,
        "report",
        response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": schema}},
    )
    run = poll(sim, run)
    assert texts(sim, run.thread_id)[-1] == ("assistant", '{"city": "sample"}')
