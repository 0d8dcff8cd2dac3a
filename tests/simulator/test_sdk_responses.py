"""The Responses API through the official SDK, with strict response validation on."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from openai.types.responses import Response, ResponseFunctionToolCall

from tests.simulator.sim import Sim
from tests.tool_schemas import SEARCH, WEATHER, responses_tool

MODEL = "gpt-5.4"
TOOLS: list[Any] = [responses_tool(WEATHER), responses_tool(SEARCH, strict=False)]
PARALLEL_PROMPT = "What's the weather in Paris and London? Also search for celery chords."


def calls_of(response: Response) -> list[ResponseFunctionToolCall]:
    return [item for item in response.output if isinstance(item, ResponseFunctionToolCall)]


def answer(calls: list[ResponseFunctionToolCall]) -> list[Any]:
    return [
        {"type": "function_call_output", "call_id": call.call_id, "output": f"{call.name} ok"}
        for call in calls
    ]


def test_background_tool_round_trip(sim: Sim) -> None:
    client = sim.client
    # Given a background response that asks for three tools
    created = client.responses.create(
        model=MODEL, input=PARALLEL_PROMPT, tools=TOOLS, background=True, instructions="Be brief."
    )
    assert created.status == "queued"
    assert created.output == [] and created.usage is None
    assert created._request_id is not None and created._request_id.startswith("req_")

    # When time passes, polls see it start and then finish with parallel calls
    sim.clock.advance(0.5)
    assert client.responses.retrieve(created.id).status == "in_progress"
    sim.clock.advance(0.5)
    done = client.responses.retrieve(created.id)
    assert done.status == "completed"
    assert done.completed_at is not None
    calls = calls_of(done)
    assert [(call.name, call.arguments) for call in calls] == [
        ("get_weather", '{"location": "Paris"}'),
        ("get_weather", '{"location": "London"}'),
        ("search_documents", '{"query": "celery chords"}'),
    ]
    assert all(call.id and call.id.startswith("fc_") for call in calls)
    assert all(call.call_id.startswith("call_") and call.status == "completed" for call in calls)

    # Then continuing with every output gives the final answer, billed with a cached prefix
    final = client.responses.create(
        model=MODEL, previous_response_id=done.id, input=answer(calls), tools=TOOLS, background=True
    )
    sim.clock.advance(1)
    final = client.responses.retrieve(final.id)
    assert final.status == "completed"
    assert final.previous_response_id == done.id
    assert final.output_text == (
        "Here is what I found: get_weather ok; get_weather ok; search_documents ok"
    )
    assert final.usage is not None
    assert final.usage.input_tokens_details.cache_write_tokens == 0
    assert 0 < final.usage.input_tokens_details.cached_tokens < final.usage.input_tokens
    stats = sim.stats()
    assert (stats["function_calls_emitted"], stats["tool_outputs_submitted"]) == (3, 3)


def test_sync_create_is_terminal_and_echoes_the_request(sim: Sim) -> None:
    response = sim.client.responses.create(
        model=MODEL,
        input="hello there",
        tools=TOOLS,
        instructions="Answer plainly.",
        metadata={"job": "42"},
        max_output_tokens=64,
        temperature=0.0,
    )
    assert response.status == "completed"
    assert response.background is False
    assert response.to_dict()["store"] is True  # not an SDK attribute, but on the wire
    assert response.output_text == "Echo: hello there"
    assert response.instructions == "Answer plainly."
    assert response.metadata == {"job": "42"}
    assert response.max_output_tokens == 64
    assert response.temperature == 0.0
    assert [tool.strict for tool in response.tools] == [True, False]  # type: ignore[union-attr]
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == "text"
    assert response.usage is not None and response.usage.total_tokens > 0


def test_multi_round_turns_directive(sim: Sim) -> None:
    response = sim.client.responses.create(
        model=MODEL, input="weather in Oslo #turns=2", tools=TOOLS
    )
    rounds = 0
    while calls := calls_of(response):
        rounds += 1
        response = sim.client.responses.create(
            model=MODEL, previous_response_id=response.id, input=answer(calls), tools=TOOLS
        )
    assert rounds == 2
    assert response.output_text == "Here is what I found: get_weather ok"


def test_parallel_tool_calls_false_means_one_call(sim: Sim) -> None:
    response = sim.client.responses.create(
        model=MODEL, input=PARALLEL_PROMPT, tools=TOOLS, parallel_tool_calls=False
    )
    assert response.parallel_tool_calls is False
    assert [call.arguments for call in calls_of(response)] == ['{"location": "Paris"}']


@pytest.mark.parametrize("background", [False, True])
def test_fail_directive_fails_the_response(sim: Sim, background: bool) -> None:
    response = sim.client.responses.create(model=MODEL, input="hi #fail", background=background)
    sim.clock.advance(2)
    response = sim.client.responses.retrieve(response.id)
    assert response.status == "failed"
    assert response.error is not None and response.error.code == "server_error"
    assert response.output == []


def test_incomplete_directive(sim: Sim) -> None:
    response = sim.client.responses.create(
        model=MODEL, input="hi #incomplete", max_output_tokens=32
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.usage is not None and response.usage.output_tokens == 32


def test_slow_directive_keeps_it_in_progress_longer(sim: Sim) -> None:
    response = sim.client.responses.create(model=MODEL, input="hi #slow=2000", background=True)
    sim.clock.advance(2.5)
    assert sim.client.responses.retrieve(response.id).status == "in_progress"
    sim.clock.advance(0.5)
    assert sim.client.responses.retrieve(response.id).status == "completed"


def test_cancel(sim: Sim) -> None:
    client = sim.client
    running = client.responses.create(model=MODEL, input="hi", background=True)
    cancelled = client.responses.cancel(running.id)
    assert cancelled.status == "cancelled"
    assert cancelled.output == []
    sim.clock.advance(5)
    assert client.responses.retrieve(running.id).status == "cancelled"
    assert client.responses.cancel(running.id).status == "cancelled"

    finished = client.responses.create(model=MODEL, input="hi", background=True)
    sim.clock.advance(5)
    assert client.responses.cancel(finished.id).status == "completed"
    assert sim.stats()["responses_cancelled"] == 1

    foreground = client.responses.create(model=MODEL, input="hi")
    with pytest.raises(openai.BadRequestError):
        client.responses.cancel(foreground.id)


def test_delete_then_404(sim: Sim) -> None:
    response = sim.client.responses.create(model=MODEL, input="hi")
    raw = sim.client.responses.with_raw_response.delete(response.id)
    assert raw.http_response.json() == {"id": response.id, "object": "response", "deleted": True}
    with pytest.raises(openai.NotFoundError) as caught:
        sim.client.responses.retrieve(response.id)
    assert caught.value.request_id is not None and caught.value.request_id.startswith("req_")
    with pytest.raises(openai.NotFoundError):
        sim.client.responses.delete(response.id)


def test_store_false_is_not_retrievable_or_chainable(sim: Sim) -> None:
    response = sim.client.responses.create(model=MODEL, input="hi", store=False)
    assert response.to_dict()["store"] is False
    with pytest.raises(openai.NotFoundError):
        sim.client.responses.retrieve(response.id)
    with pytest.raises(openai.BadRequestError) as caught:
        sim.client.responses.create(model=MODEL, previous_response_id=response.id, input="more")
    assert caught.value.code == "previous_response_not_found"


def test_input_items_list_with_ids_and_paging(sim: Sim) -> None:
    response = sim.client.responses.create(
        model=MODEL,
        input=[
            {"role": "developer", "content": "Be terse."},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "noted"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "two"}]},
        ],
    )
    items = sim.client.responses.input_items.list(response.id)
    assert [item.role for item in items.data] == ["user", "assistant", "user", "developer"]  # type: ignore[union-attr]
    assert all(item.id.startswith("msg_") for item in items.data)
    paged = list(sim.client.responses.input_items.list(response.id, limit=1, order="asc"))
    assert [item.id for item in paged] == [item.id for item in reversed(items.data)]


def test_input_tokens_count(sim: Sim) -> None:
    counted = sim.client.responses.input_tokens.count(
        model=MODEL, input="x" * 400, instructions="y" * 40, tools=TOOLS
    )
    assert counted.object == "response.input_tokens"
    created = sim.client.responses.create(
        model=MODEL, input="x" * 400, instructions="y" * 40, tools=TOOLS
    )
    assert created.usage is not None and counted.input_tokens == created.usage.input_tokens
    assert sim.stats()["input_tokens_counted"] == 1
