"""Chat Completions replies against the bundled OpenAI spec (`CreateChatCompletionResponse`).

No widening is needed here: every field the spec requires is sent, `logprobs` and `refusal` as
null, and `system_fingerprint` (a non-nullable string in the spec) as a fixed fingerprint.
"""

from __future__ import annotations

from typing import Any

from referencing import Registry

from tests.simulator.openapi_spec import problems
from tests.simulator.sim import Sim
from tests.simulator.test_sdk_chat import TOOLS
from tests.simulator.test_structured_output import JSON_SCHEMA_FORMAT

AUTH = {"Authorization": "Bearer sk-test"}
MODEL = "gpt-5.4-mini"


def post(sim: Sim, text: str, **body: Any) -> Any:
    messages = body.pop("messages", [{"role": "user", "content": text}])
    reply = sim.http.post(
        "/v1/chat/completions", json={"model": MODEL, "messages": messages, **body}, headers=AUTH
    )
    return reply.json()


def test_completions_match_the_spec(sim: Sim, registry: Registry) -> None:
    with_calls = post(sim, "weather in Paris and Rome", tools=TOOLS)
    calls = with_calls["choices"][0]["message"]["tool_calls"]
    answered = [
        {"role": "user", "content": "weather in Paris and Rome"},
        with_calls["choices"][0]["message"],
        *[{"role": "tool", "tool_call_id": call["id"], "content": "18C"} for call in calls],
    ]
    samples = {
        "text": post(sim, "hello"),
        "tool calls": with_calls,
        "final after tools": post(sim, "", messages=answered, tools=TOOLS),
        "length": post(sim, "hi #incomplete", max_completion_tokens=32),
        "two choices": post(sim, "hi", n=2),
        "json schema": post(sim, "report", response_format=JSON_SCHEMA_FORMAT),
    }
    assert [sample["choices"][0]["finish_reason"] for sample in samples.values()] == [
        "stop",
        "tool_calls",
        "stop",
        "length",
        "stop",
        "stop",
    ]
    for label, body in samples.items():
        assert problems(registry, "CreateChatCompletionResponse", body) == [], label


def test_chat_errors_match_the_spec(sim: Sim, registry: Registry) -> None:
    unpaired = [
        {"role": "user", "content": "x"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
    ]
    for body in (post(sim, "", messages=unpaired), post(sim, "hi #fail")):
        assert problems(registry, "ErrorResponse", body) == []


def test_the_check_catches_a_missing_required_field(sim: Sim, registry: Registry) -> None:
    body = post(sim, "hello")
    del body["choices"][0]["logprobs"]
    found = problems(registry, "CreateChatCompletionResponse", body)
    assert any("'logprobs' is a required property" in problem for problem in found)
