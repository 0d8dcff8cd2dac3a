"""ResponsesProvider through the official SDK against scripted Responses replies."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from openai.types.responses import ResponseFunctionToolCall

from tests.tool_schemas import WEATHER
from tests.workers.providers.wire import ScriptedServer
from workers.errors import ProviderRateLimited, ProviderRejected
from workers.providers.interface import ProviderStatus, ToolOutput, TurnRequest, Usage
from workers.providers.responses import ResponsesProvider, response_of

REQUEST = TurnRequest(
    run_id="run_1",
    model="gpt-test",
    instructions="Be brief.",
    input_text="Weather in Oslo?",
    tools=(WEATHER,),
    max_output_tokens=256,
)
USAGE = {
    "input_tokens": 40,
    "input_tokens_details": {"cached_tokens": 8, "cache_write_tokens": 0},
    "output_tokens": 12,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 52,
}


def response(status: str, output: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {
        "id": fields.pop("id", "resp_1"),
        "object": "response",
        "created_at": 1763800000,
        "status": status,
        "model": "gpt-test",
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "usage": USAGE if status != "queued" else None,
        **fields,
    }


def call_item(call_id: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": f"fc_{call_id}",
        "call_id": call_id,
        "name": "get_weather",
        "arguments": '{"location": "Oslo"}',
        "status": "completed",
    }


def message(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def provider_on(server: ScriptedServer) -> ResponsesProvider:
    return ResponsesProvider(server.client())


def test_create_is_a_stored_background_response_with_flat_tools():
    server = ScriptedServer()
    server.reply(response("queued", []))
    hosted = replace(REQUEST, hosted_tools=({"type": "web_search"},))
    state = provider_on(server).create(hosted)
    body = server.sent[0].body
    assert (body["background"], body["store"], body["metadata"]) == (
        True,
        True,
        {"runq_run_id": "run_1"},
    )
    assert body["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": WEATHER["parameters"],
            "strict": False,
        },
        {"type": "web_search"},
    ]
    assert (state.status, state.ref, state.usage) == (ProviderStatus.QUEUED, "resp_1", None)


def test_a_sync_turn_is_one_request_that_answers_at_once():
    server = ScriptedServer()
    server.reply(response("completed", [message("Sunny.")]))
    state = provider_on(server).create(replace(REQUEST, background=False))
    assert server.sent[0].body["background"] is False
    assert (state.status, state.output_text) == (ProviderStatus.COMPLETED, "Sunny.")


def test_completed_with_function_calls_means_run_the_tools():
    server = ScriptedServer()
    server.reply(response("completed", [call_item("call_a"), call_item("call_b")]))
    state = provider_on(server).retrieve("resp_1")
    assert state.status is ProviderStatus.REQUIRES_TOOLS
    assert [c.call_id for c in state.tool_calls] == ["call_a", "call_b"]
    assert state.usage == Usage(input_tokens=40, output_tokens=12, cached_tokens=8)


def test_an_output_item_newer_than_the_sdk_does_not_stop_the_turn():
    # Given a reply the SDK's models do not fully know: an item type and a field from a
    # later API version (pydantic's validation refuses it; the SDK's own parse keeps it)
    server = ScriptedServer()
    future = {"type": "hologram_call", "id": "hc_1", "status": "completed"}
    server.reply(response("completed", [future, call_item("call_a")], halo_level=3))
    # Then the turn is read as the SDK reads it: the function call is still there
    state = provider_on(server).retrieve("resp_1")
    assert state.status is ProviderStatus.REQUIRES_TOOLS
    assert [c.call_id for c in state.tool_calls] == ["call_a"]


def test_a_reply_the_sdk_knows_is_validated_into_its_models():
    body = response("completed", [call_item("call_a"), message("Hi")])
    parsed = response_of(body)
    assert isinstance(parsed.output[0], ResponseFunctionToolCall)
    assert parsed.output_text == "Hi"
    assert parsed.usage is not None and parsed.usage.input_tokens == 40


def test_a_finished_turn_reports_how_long_it_took_at_the_provider():
    server = ScriptedServer()
    server.reply(response("completed", [message("Hi")], completed_at=1763800002.25))
    server.reply(response("in_progress", []))
    provider = provider_on(server)
    assert provider.retrieve("resp_1").duration_s == 2.25
    assert provider.retrieve("resp_1").duration_s is None


def test_hosted_tool_items_are_recorded_and_text_is_the_answer():
    server = ScriptedServer()
    search = {
        "type": "web_search_call",
        "id": "ws_1",
        "status": "completed",
        "action": {"type": "search", "query": "oslo weather"},
    }
    server.reply(response("completed", [search, message("Cold.")]))
    state = provider_on(server).retrieve("resp_1")
    assert (state.status, state.output_text) == (ProviderStatus.COMPLETED, "Cold.")
    assert [item["type"] for item in state.hosted_items] == ["web_search_call"]


def test_outputs_continue_the_chain_and_threads_use_the_conversation():
    server = ScriptedServer()
    server.reply(response("queued", [], id="resp_2"))
    server.reply(response("queued", [], id="resp_3"))
    outputs = [ToolOutput("call_a", '{"temp": 3}')]
    provider_on(server).submit_tool_outputs("resp_1", outputs, REQUEST)
    in_thread = replace(REQUEST, conversation_ref="conv_9")
    provider_on(server).submit_tool_outputs("resp_1", outputs, in_thread)
    chained, threaded = server.sent[0].body, server.sent[1].body
    assert chained["previous_response_id"] == "resp_1" and "conversation" not in chained
    assert chained["input"] == [
        {"type": "function_call_output", "call_id": "call_a", "output": '{"temp": 3}'}
    ]
    assert threaded["conversation"] == "conv_9" and "previous_response_id" not in threaded
    assert threaded["truncation"] == "auto"


def test_structured_output_sends_a_strict_json_schema():
    server = ScriptedServer()
    server.reply(response("queued", []))
    schema = {"type": "object", "properties": {}, "additionalProperties": False}
    provider_on(server).create(replace(REQUEST, output_schema=schema, output_schema_name="r"))
    assert server.sent[0].body["text"] == {
        "format": {"type": "json_schema", "name": "r", "schema": schema, "strict": True}
    }


@pytest.mark.parametrize(
    ("status", "fields", "expected", "error"),
    [
        (
            "failed",
            {"error": {"code": "server_error", "message": "boom"}},
            ProviderStatus.FAILED,
            "server_error: boom",
        ),
        (
            "incomplete",
            {"incomplete_details": {"reason": "max_output_tokens"}},
            ProviderStatus.INCOMPLETE,
            "incomplete: max_output_tokens",
        ),
        ("cancelled", {}, ProviderStatus.CANCELLED, None),
    ],
)
def test_terminal_statuses(status, fields, expected, error):
    server = ScriptedServer()
    server.reply(response(status, [], **fields))
    state = provider_on(server).retrieve("resp_1")
    assert (state.status, state.error) == (expected, error)


def test_429_rate_limit_and_quota_are_told_apart():
    server = ScriptedServer()
    server.error(
        429,
        code="rate_limit_exceeded",
        type_="requests",
        message="slow down",
        retry_after_ms="1500",
    )
    server.error(429, code="insufficient_quota", type_="insufficient_quota", message="pay")
    with pytest.raises(ProviderRateLimited) as limited:
        provider_on(server).retrieve("resp_1")
    assert limited.value.retry_after_s == 1.5
    with pytest.raises(ProviderRejected, match="insufficient_quota"):
        provider_on(server).retrieve("resp_1")
