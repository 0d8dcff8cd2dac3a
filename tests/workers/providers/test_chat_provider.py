"""ChatProvider through the official SDK against scripted Chat Completions replies."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.tool_schemas import WEATHER as WEATHER_SPEC
from tests.workers.providers.wire import ScriptedServer
from workers.errors import ProviderRateLimited, ProviderRejected, ProviderUnavailable
from workers.providers.chat import ChatProvider
from workers.providers.interface import (
    ProviderStatus,
    ToolCallRequest,
    ToolOutput,
    ToolTurn,
    TurnRequest,
    Usage,
)

WEATHER = {**WEATHER_SPEC, "strict": True}
REQUEST = TurnRequest(
    run_id="run_1",
    model="qwen3-8b",
    instructions="Be brief.",
    input_text="Weather in Paris and London?",
    tools=(WEATHER,),
    max_output_tokens=256,
    temperature=0.2,
)


def tool_call(call_id: str, city: str) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": "get_weather", "arguments": f'{{"location": "{city}"}}'},
    }


def completion(
    *,
    finish_reason: str = "stop",
    content: str | None = "Done.",
    refusal: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    completion_id: str = "chatcmpl-1",
    cached_tokens: int = 0,
) -> dict[str, Any]:
    """A Chat Completions reply shaped like §6.2, every field present."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": 1763800000,
        "model": "qwen3-8b",
        "choices": [
            {"index": 0, "finish_reason": finish_reason, "logprobs": None, "message": message}
        ],
        "usage": {
            "prompt_tokens": 120,
            "completion_tokens": 18,
            "total_tokens": 138,
            "prompt_tokens_details": {"cached_tokens": cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
        "system_fingerprint": None,
        "service_tier": "default",
    }


def assistant_turn(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": list(calls)}


def tool_reply(call_id: str, content: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def test_two_turn_tool_loop_replays_the_whole_history() -> None:
    server = ScriptedServer()
    provider = ChatProvider(server.client())
    paris, london, rome = (
        tool_call("call_1", "Paris"),
        tool_call("call_2", "London"),
        tool_call("call_3", "Rome"),
    )
    server.reply(completion(finish_reason="tool_calls", content=None, tool_calls=[paris, london]))
    server.reply(
        completion(
            finish_reason="tool_calls", content=None, tool_calls=[rome], completion_id="chatcmpl-2"
        )
    )
    server.reply(completion(content="Sunny everywhere.", completion_id="chatcmpl-3"))

    # Given a first turn that asks for two tools
    first = provider.create(REQUEST)
    assert first.status is ProviderStatus.REQUIRES_TOOLS
    assert first.ref == "chatcmpl-1"
    assert first.tool_calls == (
        ToolCallRequest("call_1", "get_weather", '{"location": "Paris"}'),
        ToolCallRequest("call_2", "get_weather", '{"location": "London"}'),
    )
    turn1 = ToolTurn(
        calls=first.tool_calls,
        outputs=(ToolOutput("call_1", "sunny"), ToolOutput("call_2", "rain")),
    )

    # When both tool turns are answered, each with the history so far
    second = provider.submit_tool_outputs(first.ref, turn1.outputs, _with_history(REQUEST, turn1))
    assert second.status is ProviderStatus.REQUIRES_TOOLS
    turn2 = ToolTurn(calls=second.tool_calls, outputs=(ToolOutput("call_3", "sunny"),))
    final = provider.submit_tool_outputs(
        second.ref, turn2.outputs, _with_history(REQUEST, turn1, turn2)
    )

    # Then the run completes and every request replayed the log in order
    assert final.status is ProviderStatus.COMPLETED
    assert final.output_text == "Sunny everywhere."
    assert final.ref == "chatcmpl-3"
    assert server.paths() == ["POST /v1/chat/completions"] * 3
    system = {"role": "system", "content": "Be brief."}
    user = {"role": "user", "content": "Weather in Paris and London?"}
    assert server.sent[0].body["messages"] == [system, user]
    assert server.sent[1].body["messages"] == [
        system,
        user,
        assistant_turn(paris, london),
        tool_reply("call_1", "sunny"),
        tool_reply("call_2", "rain"),
    ]
    assert server.sent[2].body["messages"] == [
        *server.sent[1].body["messages"],
        assistant_turn(rome),
        tool_reply("call_3", "sunny"),
    ]


def test_request_body_has_nested_tools_and_token_cap() -> None:
    server = ScriptedServer()
    server.reply(completion())

    ChatProvider(server.client()).create(REQUEST)

    body = server.sent[0].body
    assert body["model"] == "qwen3-8b"
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city.",
                "parameters": WEATHER["parameters"],
                "strict": True,
            },
        }
    ]
    assert body["max_completion_tokens"] == 256
    assert body["temperature"] == 0.2
    assert "max_tokens" not in body


def test_optional_fields_are_left_out() -> None:
    server = ScriptedServer()
    server.reply(completion())
    bare = TurnRequest(run_id="run_1", model="m", instructions=None, input_text="hi")

    ChatProvider(server.client()).create(bare)

    assert server.sent[0].body == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
    }


@pytest.mark.parametrize(
    ("reply", "status", "error", "text", "call_count"),
    [
        (completion(finish_reason="stop", content="Hi."), ProviderStatus.COMPLETED, None, "Hi.", 0),
        (completion(finish_reason="stop", content=None), ProviderStatus.COMPLETED, None, "", 0),
        (
            completion(finish_reason="tool_calls", content=None, tool_calls=[tool_call("c", "X")]),
            ProviderStatus.REQUIRES_TOOLS,
            None,
            None,
            1,
        ),
        # Some compatible servers report tool calls with finish_reason "stop".
        (
            completion(finish_reason="stop", content=None, tool_calls=[tool_call("c", "X")]),
            ProviderStatus.REQUIRES_TOOLS,
            None,
            None,
            1,
        ),
        (
            completion(finish_reason="length", content="Half an ans"),
            ProviderStatus.INCOMPLETE,
            "incomplete: max_output_tokens",
            None,
            0,
        ),
        # A cut-off turn may carry truncated arguments: length wins over tool calls.
        (
            completion(finish_reason="length", content=None, tool_calls=[tool_call("c", "X")]),
            ProviderStatus.INCOMPLETE,
            "incomplete: max_output_tokens",
            None,
            0,
        ),
        (
            completion(finish_reason="content_filter", content=None),
            ProviderStatus.FAILED,
            "content_filter",
            None,
            0,
        ),
        (
            completion(finish_reason="stop", content=None, refusal="I can't help with that."),
            ProviderStatus.FAILED,
            "refusal: I can't help with that.",
            None,
            0,
        ),
        (
            completion(finish_reason="function_call", content=None),
            ProviderStatus.FAILED,
            "unexpected finish_reason: function_call",
            None,
            0,
        ),
    ],
)
def test_finish_reason_mapping(
    reply: dict[str, Any],
    status: ProviderStatus,
    error: str | None,
    text: str | None,
    call_count: int,
) -> None:
    server = ScriptedServer()
    server.reply(reply)

    state = ChatProvider(server.client()).create(REQUEST)

    assert (state.status, state.error, state.output_text) == (status, error, text)
    assert len(state.tool_calls) == call_count


def test_usage_and_rate_limit_headers() -> None:
    server = ScriptedServer()
    server.reply(
        completion(cached_tokens=64),
        headers={"x-ratelimit-remaining-tokens": "149000", "openai-processing-ms": "12"},
    )

    state = ChatProvider(server.client()).create(REQUEST)

    assert state.usage == Usage(input_tokens=120, output_tokens=18, cached_tokens=64)
    assert state.rate_limit_headers == {"x-ratelimit-remaining-tokens": "149000"}


def test_missing_usage_reads_as_none() -> None:
    server = ScriptedServer()
    reply = completion()
    del reply["usage"]
    server.reply(reply)

    assert ChatProvider(server.client()).create(REQUEST).usage is None


def test_rate_limit_429_carries_retry_after() -> None:
    server = ScriptedServer()
    server.error(
        429,
        code="rate_limit_exceeded",
        type_="tokens",
        message="Rate limit reached on tokens per min (TPM). Please try again in 250ms.",
        retry_after_ms="250",
    )

    with pytest.raises(ProviderRateLimited) as raised:
        ChatProvider(server.client()).create(REQUEST)

    assert raised.value.retry_after_s == 0.25


@pytest.mark.parametrize(
    ("status", "code", "type_", "expected"),
    [
        (429, "insufficient_quota", "insufficient_quota", ProviderRejected),
        (500, None, "server_error", ProviderUnavailable),
        (400, None, "invalid_request_error", ProviderRejected),
    ],
)
def test_http_errors_are_translated(
    status: int, code: str | None, type_: str, expected: type[Exception]
) -> None:
    server = ScriptedServer()
    server.error(status, code=code, type_=type_, message="nope")

    with pytest.raises(expected):
        ChatProvider(server.client()).create(REQUEST)


def test_reply_that_fails_strict_validation_is_rejected() -> None:
    server = ScriptedServer()
    reply = completion()
    del reply["created"]
    server.reply(reply)

    with pytest.raises(ProviderRejected, match="did not parse"):
        ChatProvider(server.client()).create(REQUEST)


def test_retrieve_refuses_without_a_request() -> None:
    server = ScriptedServer()

    with pytest.raises(ProviderRejected, match="never polled") as raised:
        ChatProvider(server.client()).retrieve("chatcmpl-1")

    assert raised.value.code == "retrieve_unsupported"
    assert server.sent == []


def test_cancel_is_local() -> None:
    server = ScriptedServer()

    state = ChatProvider(server.client()).cancel("chatcmpl-1")

    assert (state.status, state.ref) == (ProviderStatus.CANCELLED, "chatcmpl-1")
    assert server.sent == []


@pytest.mark.parametrize(
    "history",
    [
        (),
        (ToolTurn(calls=(ToolCallRequest("call_9", "get_weather", "{}"),), outputs=()),),
        (
            ToolTurn(
                calls=(ToolCallRequest("call_9", "get_weather", "{}"),),
                outputs=(ToolOutput("call_9", "x"),),
            ),
        ),
    ],
    ids=["no-history", "unanswered-last-turn", "other-turn-last"],
)
def test_submit_needs_the_answered_turn_in_history(history: tuple[ToolTurn, ...]) -> None:
    server = ScriptedServer()

    with pytest.raises(ProviderRejected) as raised:
        ChatProvider(server.client()).submit_tool_outputs(
            "chatcmpl-1", [ToolOutput("call_1", "sunny")], _with_history(REQUEST, *history)
        )

    assert raised.value.code == "invalid_history"
    assert server.sent == []


def _with_history(request: TurnRequest, *turns: ToolTurn) -> TurnRequest:
    return replace(request, history=turns)
