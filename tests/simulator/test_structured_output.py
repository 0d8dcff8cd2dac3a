"""Structured output on both text surfaces: Chat `response_format` and Responses `text.format`.

The final answer must be JSON that validates against the caller's schema (checked both with
jsonschema and by the SDK's own `parse` helpers), unless `#invalid_json` asks for a broken one.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import openai
import pydantic
import pytest
from jsonschema import Draft202012Validator

from tests.simulator.sim import Sim
from tests.simulator.test_sdk_chat import TOOLS, calls_of, echo, tool_replies

MODEL = "gpt-5.4-mini"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "temperature_c": {"type": "number"},
        "conditions": {"type": "array", "items": {"enum": ["sunny", "rain", "snow"]}},
    },
    "required": ["city", "temperature_c", "conditions"],
    "additionalProperties": False,
}
JSON_SCHEMA_FORMAT: Any = {
    "type": "json_schema",
    "json_schema": {"name": "weather_report", "schema": SCHEMA, "strict": True},
}


class Reading(pydantic.BaseModel):
    label: str
    value: float


class Report(pydantic.BaseModel):
    city: str
    unit: Literal["celsius", "fahrenheit"]
    readings: list[Reading]
    note: str | None
    windy: bool


def schema_errors(text: str | None) -> list[str]:
    assert text is not None
    return [error.message for error in Draft202012Validator(SCHEMA).iter_errors(json.loads(text))]


def ask(sim: Sim, text: str, response_format: Any) -> str | None:
    completion = sim.client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": text}], response_format=response_format
    )
    return completion.choices[0].message.content


def test_chat_json_schema_answer_validates(sim: Sim) -> None:
    content = ask(sim, "weather report please", JSON_SCHEMA_FORMAT)
    assert schema_errors(content) == []
    assert json.loads(content or "") == {
        "city": "sample",
        "temperature_c": 0,
        "conditions": ["sunny"],
    }


def test_chat_invalid_json_directive_breaks_the_schema(sim: Sim) -> None:
    content = ask(sim, "weather report please #invalid_json", JSON_SCHEMA_FORMAT)
    assert content == "{}"
    assert "'city' is a required property" in schema_errors(content)


def test_chat_json_object_answer_is_json(sim: Sim) -> None:
    content = ask(sim, "hi", {"type": "json_object"})
    assert json.loads(content or "") == {"answer": "Echo: hi"}
    broken = ask(sim, "hi #invalid_json", {"type": "json_object"})
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken or "")


def test_chat_final_answer_after_tools_is_structured(sim: Sim) -> None:
    messages: list[Any] = [{"role": "user", "content": "weather in Oslo"}]
    first = sim.client.chat.completions.create(
        model=MODEL, messages=messages, tools=TOOLS, response_format=JSON_SCHEMA_FORMAT
    )
    messages += [echo(first), *tool_replies(calls_of(first))]
    final = sim.client.chat.completions.create(
        model=MODEL, messages=messages, tools=TOOLS, response_format=JSON_SCHEMA_FORMAT
    )
    assert schema_errors(final.choices[0].message.content) == []


def test_chat_parse_helper_gets_a_model(sim: Sim) -> None:
    completion = sim.client.chat.completions.parse(
        model=MODEL, messages=[{"role": "user", "content": "report"}], response_format=Report
    )
    parsed = completion.choices[0].message.parsed
    assert parsed == Report(
        city="sample",
        unit="celsius",
        readings=[Reading(label="sample", value=0)],
        note="sample",
        windy=True,
    )


def test_chat_parse_helper_rejects_an_invalid_answer(sim: Sim) -> None:
    with pytest.raises(pydantic.ValidationError):
        sim.client.chat.completions.parse(
            model=MODEL,
            messages=[{"role": "user", "content": "report #invalid_json"}],
            response_format=Report,
        )


def test_strict_schema_that_strict_mode_cannot_take_is_a_400(sim: Sim) -> None:
    loose = {"type": "object", "properties": {"city": {"type": "string"}}}
    response_format: Any = {
        "type": "json_schema",
        "json_schema": {"name": "loose", "schema": loose, "strict": True},
    }
    with pytest.raises(openai.BadRequestError) as caught:
        ask(sim, "hi", response_format)
    assert caught.value.code == "invalid_json_schema"
    assert "'additionalProperties' is required" in caught.value.message


def test_responses_text_format_json_schema(sim: Sim) -> None:
    text_format: Any = {"format": {"type": "json_schema", "name": "weather", "schema": SCHEMA}}
    response = sim.client.responses.create(model=MODEL, input="report", text=text_format)
    assert schema_errors(response.output_text) == []
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == "json_schema"
    broken = sim.client.responses.create(
        model=MODEL, input="report #invalid_json", text=text_format
    )
    assert broken.output_text == "{}"


def test_responses_parse_helper_gets_a_model(sim: Sim) -> None:
    response = sim.client.responses.parse(model=MODEL, input="report", text_format=Report)
    assert isinstance(response.output_parsed, Report)
    assert response.output_parsed.unit == "celsius"


def test_responses_bad_format_type_is_a_400(sim: Sim) -> None:
    reply = sim.http.post(
        "/v1/responses",
        json={"model": MODEL, "input": "hi", "text": {"format": {"type": "yaml"}}},
        headers={"Authorization": "Bearer k"},
    )
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == "text.format.type"
