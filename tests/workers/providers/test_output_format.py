"""Structured-output shapes per surface, and that the SDK sends them as built."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.workers.providers.test_chat_provider import completion
from tests.workers.providers.wire import ScriptedServer
from workers.errors import ConfigError
from workers.providers.output_format import chat_response_format, responses_text_format

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temp_c": {"type": "number"}},
    "required": ["city", "temp_c"],
    "additionalProperties": False,
}


def test_chat_shape_nests_the_schema() -> None:
    assert chat_response_format("Weather", SCHEMA) == {
        "type": "json_schema",
        "json_schema": {"name": "Weather", "schema": SCHEMA, "strict": True},
    }


def test_responses_shape_is_flat_under_format() -> None:
    assert responses_text_format("Weather", SCHEMA) == {
        "format": {"type": "json_schema", "name": "Weather", "schema": SCHEMA, "strict": True}
    }


def test_sdk_sends_both_shapes_unchanged() -> None:
    # Given the official SDK on a scripted server
    server = ScriptedServer()
    client = server.client()
    server.reply(completion())
    server.reply(response())
    chat_format = chat_response_format("Weather", SCHEMA)
    text_format = responses_text_format("Weather", SCHEMA)

    # When each surface is asked for structured output, through **params as the adapters do
    chat_params: dict[str, Any] = {"response_format": chat_format}
    client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Paris?"}], **chat_params
    )
    text_params: dict[str, Any] = {"text": text_format}
    parsed = client.responses.create(model="m", input="Paris?", **text_params)

    # Then the wire carries the shapes exactly as built
    assert server.sent[0].body["response_format"] == chat_format
    assert server.sent[1].body["text"] == text_format
    assert parsed.output_text == '{"city": "Paris", "temp_c": 22}'


def test_schema_is_copied_not_shared() -> None:
    schema: dict[str, Any] = {"type": "object", "properties": {"a": {"type": "string"}}}

    shape = chat_response_format("A", schema)
    schema["properties"]["a"]["type"] = "number"

    assert shape["json_schema"]["schema"]["properties"]["a"]["type"] == "string"


@pytest.mark.parametrize("name", ["", "has space", "dots.not.allowed", "x" * 65])
@pytest.mark.parametrize("render", [chat_response_format, responses_text_format])
def test_bad_schema_names_fail_at_config_time(
    name: str, render: Callable[[str, dict[str, Any]], dict[str, Any]]
) -> None:
    with pytest.raises(ConfigError, match="schema name"):
        render(name, SCHEMA)


@pytest.mark.parametrize("name", ["Weather", "weather_report-v2", "x" * 64])
def test_good_schema_names_pass(name: str) -> None:
    assert responses_text_format(name, SCHEMA)["format"]["name"] == name


def response() -> dict[str, Any]:
    """A completed structured-output Response shaped like §2.6."""
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1763800000,
        "status": "completed",
        "background": False,
        "completed_at": 1763800001,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": "m",
        "previous_response_id": None,
        "conversation": None,
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": [
                    {
                        "type": "output_text",
                        "text": '{"city": "Paris", "temp_c": 22}',
                        "annotations": [],
                        "logprobs": [],
                    }
                ],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "store": True,
        "temperature": 1.0,
        "top_p": 1.0,
        "text": responses_text_format("Weather", SCHEMA),
        "truncation": "disabled",
        "metadata": {},
        "usage": {
            "input_tokens": 20,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": 12,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 32,
        },
    }
