"""Chat Completions through the official SDK, with strict response validation on."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionMessageFunctionToolCall

from tests.simulator.sim import Sim
from tests.tool_schemas import SEARCH, WEATHER, chat_tool

MODEL = "gpt-5.4-mini"
TOOLS: list[Any] = [chat_tool(WEATHER, strict=True), chat_tool(SEARCH)]
PARALLEL_PROMPT = "What's the weather in Paris and London? Also search for celery chords."


def calls_of(completion: ChatCompletion) -> list[ChatCompletionMessageFunctionToolCall]:
    calls = completion.choices[0].message.tool_calls or []
    return [call for call in calls if isinstance(call, ChatCompletionMessageFunctionToolCall)]


def echo(completion: ChatCompletion) -> dict[str, Any]:
    """The assistant message as a client sends it back."""
    return completion.choices[0].message.model_dump(exclude_none=True)


def tool_replies(calls: list[ChatCompletionMessageFunctionToolCall]) -> list[Any]:
    return [
        {"role": "tool", "tool_call_id": call.id, "content": f"{call.function.name} ok"}
        for call in calls
    ]


def test_plain_answer(sim: Sim) -> None:
    completion = sim.client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "Answer plainly."},
            {"role": "user", "content": "hello there"},
        ],
    )
    assert completion.id.startswith("chatcmpl-")
    assert (completion.object, completion.model) == ("chat.completion", MODEL)
    choice = completion.choices[0]
    assert (choice.index, choice.finish_reason) == (0, "stop")
    assert choice.message.content == "Echo: hello there"
    assert choice.message.tool_calls is None
    usage = completion.usage
    assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 0
    assert completion._request_id is not None and completion._request_id.startswith("req_")
    assert sim.stats()["chat_completions"] == 1


def test_parallel_tool_round_trip(sim: Sim) -> None:
    # Given a conversation that asks for three tools at once
    messages: list[Any] = [{"role": "user", "content": PARALLEL_PROMPT}]
    first = sim.client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)

    # Then the model calls them all, with call_ ids and nested function fields
    assert first.choices[0].finish_reason == "tool_calls"
    assert first.choices[0].message.content is None
    calls = calls_of(first)
    assert [(call.function.name, call.function.arguments) for call in calls] == [
        ("get_weather", '{"location": "Paris"}'),
        ("get_weather", '{"location": "London"}'),
        ("search_documents", '{"query": "celery chords"}'),
    ]
    assert all(call.id.startswith("call_") and call.type == "function" for call in calls)

    # When the client echoes the assistant message and answers every call
    messages += [echo(first), *tool_replies(calls)]
    final = sim.client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)

    # Then the final answer sums up the outputs
    assert final.choices[0].finish_reason == "stop"
    assert final.choices[0].message.content == (
        "Here is what I found: get_weather ok; get_weather ok; search_documents ok"
    )
    assert sim.stats()["chat_completions"] == 2


def test_system_message_directives_hold_every_turn(sim: Sim) -> None:
    messages: list[Any] = [
        {"role": "developer", "content": "#turns=2"},
        {"role": "user", "content": "weather in Oslo"},
    ]
    rounds = 0
    completion = sim.client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    while calls := calls_of(completion):
        rounds += 1
        messages += [echo(completion), *tool_replies(calls)]
        completion = sim.client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    assert rounds == 2


@pytest.mark.parametrize(
    ("options", "names"),
    [
        ({"tool_choice": "none"}, []),
        ({"parallel_tool_calls": False}, ["get_weather"]),
        (
            {"tool_choice": {"type": "function", "function": {"name": "search_documents"}}},
            ["search_documents"],
        ),
    ],
)
def test_tool_choice_and_parallel_calls(
    sim: Sim, options: dict[str, Any], names: list[str]
) -> None:
    completion = sim.client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": PARALLEL_PROMPT}], tools=TOOLS, **options
    )
    assert [call.function.name for call in calls_of(completion)] == names


def test_incomplete_stops_at_the_cap(sim: Sim) -> None:
    completion = sim.client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi #incomplete"}], max_tokens=40
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.choices[0].message.content == ""
    assert completion.usage is not None and completion.usage.completion_tokens == 40


def test_n_gives_independent_choices(sim: Sim) -> None:
    completion = sim.client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "weather in Oslo"}], tools=TOOLS, n=2
    )
    assert [choice.index for choice in completion.choices] == [0, 1]
    first, second = (choice.message.tool_calls or [] for choice in completion.choices)
    assert first[0].id != second[0].id
