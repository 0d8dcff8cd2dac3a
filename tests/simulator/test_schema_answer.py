"""Structured answers as a table: schema in, JSON out, and the script writing its final answer
in the requested format. Pure, so no fixtures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from simulator.schema_answer import (
    PLAIN_TEXT,
    AnswerFormat,
    sample_instance,
    violating_instance,
    write_answer,
)
from simulator.script import FinalText, ToolCalls, Turn, next_turn

ITEM = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "count": {"type": "integer"}},
    "required": ["name", "count"],
    "additionalProperties": False,
}
# The shape the SDK's `to_strict_json_schema` gives a pydantic model with a nested model.
REPORT = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"enum": ["celsius", "fahrenheit"], "type": "string"},
        "readings": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "windy": {"type": "boolean"},
    },
    "required": ["city", "unit", "readings", "note", "windy"],
    "additionalProperties": False,
    "$defs": {"Item": ITEM},
}
TREE = {
    "type": "object",
    "properties": {"label": {"type": "string"}, "children": {"$ref": "#/$defs/Kids"}},
    "required": ["label", "children"],
    "$defs": {"Kids": {"type": "array", "items": {"$ref": "#"}}},
}


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": text}


SAMPLES: list[tuple[dict[str, Any], Any]] = [
    ({"type": "string"}, "sample"),
    ({"type": "string", "format": "date-time"}, "2026-01-01T00:00:00Z"),
    ({"type": "string", "minLength": 8}, "samplexx"),
    ({"type": "string", "maxLength": 3}, "sam"),
    ({"type": "integer"}, 0),
    ({"type": "integer", "minimum": 3}, 3),
    ({"type": "integer", "exclusiveMinimum": 0}, 1),
    ({"type": "number", "maximum": -2.5}, -2.5),
    ({"type": "boolean"}, True),
    ({"type": "null"}, None),
    ({"enum": ["b", "a"]}, "b"),
    ({"const": 7}, 7),
    ({"type": ["null", "string"]}, "sample"),
    ({"anyOf": [{"type": "null"}, {"type": "integer"}]}, 0),
    ({"type": "array", "items": {"type": "integer"}}, [0]),
    ({"type": "array", "items": {"type": "boolean"}, "minItems": 2}, [True, True]),
    ({"allOf": [{"properties": {"a": {"type": "integer"}}}, {"properties": {"b": {}}}]},
     {"a": 0, "b": {}}),
    (ITEM, {"name": "sample", "count": 0}),
    (
        REPORT,
        {
            "city": "sample",
            "unit": "celsius",
            "readings": [{"name": "sample", "count": 0}],
            "note": "sample",
            "windy": True,
        },
    ),
    ({}, {}),
]  # fmt: skip


@pytest.mark.parametrize(("schema", "expected"), SAMPLES)
def test_sample_instance(schema: dict[str, Any], expected: Any) -> None:
    value = sample_instance(schema)
    assert value == expected
    assert list(Draft202012Validator(schema).iter_errors(value)) == []


def test_recursive_schema_bottoms_out_and_validates() -> None:
    value = sample_instance(TREE)
    assert value["label"] == "sample" and len(value["children"]) == 1
    assert list(Draft202012Validator(TREE).iter_errors(value)) == []


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (REPORT, {}),
        ({"type": "object", "properties": {"a": {"type": "string"}}}, []),
        ({"type": "array", "items": {}}, {}),
        ({"type": "string"}, 0),
        ({"type": ["integer", "null"]}, "not a number"),
        ({"type": "boolean"}, "not a boolean"),
        ({}, {}),  # accepts anything: nothing can violate it
    ],
)
def test_violating_instance(schema: dict[str, Any], expected: Any) -> None:
    value = violating_instance(schema)
    assert value == expected
    if schema:
        assert list(Draft202012Validator(schema).iter_errors(value)) != []


@pytest.mark.parametrize(
    ("answer_format", "is_invalid", "expected"),
    [
        (PLAIN_TEXT, False, "Echo: hi"),
        (PLAIN_TEXT, True, "Echo: hi"),
        (AnswerFormat("json_object"), False, '{"answer": "Echo: hi"}'),
        (AnswerFormat("json_object"), True, '{"answer": "Echo: hi"'),
        (AnswerFormat("json_schema", ITEM), False, '{"name": "sample", "count": 0}'),
        (AnswerFormat("json_schema", ITEM), True, "{}"),
    ],
)
def test_write_answer(answer_format: AnswerFormat, is_invalid: bool, expected: str) -> None:
    assert write_answer("Echo: hi", answer_format, is_invalid=is_invalid) == expected


def test_json_object_answer_is_an_object() -> None:
    assert json.loads(write_answer("x", AnswerFormat("json_object"))) == {"answer": "x"}


NAME_SCHEMA = AnswerFormat(
    "json_schema",
    {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
)


@pytest.mark.parametrize(
    ("instructions", "items", "answer_format", "expected"),
    [
        (None, [user("hi")], AnswerFormat("json_object"), FinalText('{"answer": "Echo: hi"}')),
        (None, [user("hi")], NAME_SCHEMA, FinalText('{"name": "sample"}')),
        (None, [user("hi #invalid_json")], NAME_SCHEMA, FinalText("{}")),
        ("#invalid_json", [user("hi")], NAME_SCHEMA, FinalText("{}")),
        (
            None,
            [user("weather in Oslo")],
            NAME_SCHEMA,
            ToolCalls((("get_weather", '{"location": "Oslo"}'),)),
        ),
    ],
)
def test_final_answer_follows_the_answer_format(
    instructions: str | None,
    items: list[dict[str, Any]],
    answer_format: AnswerFormat,
    expected: Turn,
) -> None:
    assert next_turn(instructions, ("get_weather",), items, answer_format) == expected
