"""Chat Completions errors as the SDK sees them: tool pairing, bad bodies, #fail, rate limits."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.simulator.sim import Sim
from tests.simulator.test_sdk_chat import MODEL, TOOLS, calls_of, echo, tool_replies


def test_unanswered_tool_call_is_a_400(sim: Sim) -> None:
    first = sim.client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "weather in Paris and Rome"}],
        tools=TOOLS,
    )
    calls = calls_of(first)
    messages: list[Any] = [
        {"role": "user", "content": "weather in Paris and Rome"},
        echo(first),
        *tool_replies(calls[:1]),
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        sim.client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    assert caught.value.message.endswith(
        "An assistant message with 'tool_calls' must be followed by tool messages responding "
        "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        f"{calls[1].id}"
    )
    assert caught.value.type == "invalid_request_error"


@pytest.mark.parametrize(
    ("messages", "fragment"),
    [
        (
            [
                {"role": "user", "content": "weather in Paris"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_bogus", "content": "x"},
            ],
            "'tool_call_id' of 'call_bogus' not found in 'tool_calls' of previous message.",
        ),
        (
            [
                {"role": "user", "content": "hi"},
                {"role": "tool", "tool_call_id": "call_1", "content": "x"},
            ],
            "messages with role 'tool' must be a response to a preceeding message with "
            "'tool_calls'.",
        ),
    ],
)
def test_tool_message_without_its_call_is_a_400(
    sim: Sim, messages: list[Any], fragment: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sim.client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": MODEL}, "messages"),
        ({"model": MODEL, "messages": []}, "messages"),
        ({"model": MODEL, "messages": [{"role": "robot", "content": "x"}]}, "messages.[0].role"),
        ({"model": MODEL, "messages": [{"role": "user"}]}, "messages.[0].content"),
        ({"model": MODEL, "messages": [{"role": "user", "content": "x"}], "n": 0}, "n"),
        (
            {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
            "max_tokens",
        ),
        (
            {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "stream": True},
            "stream",
        ),
    ],
)
def test_invalid_bodies(sim: Sim, body: dict[str, Any], param: str) -> None:
    reply = sim.http.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer k"})
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == param
    assert set(reply.json()["error"]) == {"message", "type", "param", "code"}


def test_streaming_is_refused_through_the_sdk(sim: Sim) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sim.client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
        )
    assert "Streaming is not simulated" in caught.value.message


def test_fail_directive_is_a_500(sim: Sim) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        sim.client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi #fail"}]
        )
    assert caught.value.type == "server_error"
    assert "scripted #fail" in caught.value.message
    stats = sim.stats()
    assert (stats["http_5xx"], stats["chat_completions"]) == (1, 0)


def test_rpm_limit_applies(sim: Sim) -> None:
    sim.configure(rpm=1)
    messages: list[Any] = [{"role": "user", "content": "hi"}]
    raw = sim.client.chat.completions.with_raw_response.create(model=MODEL, messages=messages)
    assert raw.headers["x-ratelimit-limit-requests"] == "1"
    assert raw.headers["x-ratelimit-remaining-requests"] == "0"
    with pytest.raises(openai.RateLimitError) as caught:
        sim.client.chat.completions.create(model=MODEL, messages=messages)
    assert (caught.value.code, caught.value.type) == ("rate_limit_exceeded", "requests")
    assert caught.value.response.headers["retry-after-ms"] == "60000"
    sim.clock.advance(60)
    assert sim.client.chat.completions.create(model=MODEL, messages=messages).choices
    assert sim.stats()["http_429"] == 1


def test_tpm_charges_the_prompt_and_the_completion_allowance(sim: Sim) -> None:
    sim.configure(tpm=1000)
    raw = sim.client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], max_completion_tokens=500
    )
    remaining = int(raw.headers["x-ratelimit-remaining-tokens"])
    assert 480 < remaining < 500  # a few prompt tokens plus the 500 reserved
    assert sim.stats()["tokens_charged"] == 1000 - remaining
