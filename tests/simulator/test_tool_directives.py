"""The scripted model calls any declared tool: by directive, with given or generated arguments."""

from __future__ import annotations

import json
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from simulator.script import FinalText, ToolCalls, next_turn
from simulator.tool_directives import plan_directed_calls, strip_call_directives

ORDER_SCHEMA = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "minLength": 3},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 9},
        "express": {"type": "boolean"},
        "channel": {"enum": ["web", "phone"]},
    },
    "required": ["order_id", "quantity"],
    "additionalProperties": False,
}
SCHEMAS = {"lookup_order": ORDER_SCHEMA, "ping": {"type": "object", "properties": {}}}
OFFERED = ("lookup_order", "ping")


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": text}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            '#call=lookup_order {"order_id": "A-17", "quantity": 2}',
            [("lookup_order", {"order_id": "A-17", "quantity": 2})],
            id="given-arguments",
        ),
        pytest.param(
            '#call=ping{} then #call=ping {"x": 1}',
            [("ping", {}), ("ping", {"x": 1})],
            id="twice-in-order",
        ),
        pytest.param("#call=nosuch", [], id="not-offered-ignored"),
        pytest.param("hello", [], id="no-directive"),
    ],
)
def test_directed_calls(text: str, expected: list[tuple[str, dict[str, Any]]]) -> None:
    calls = plan_directed_calls(text, OFFERED, SCHEMAS)
    assert [(name, json.loads(arguments)) for name, arguments in calls] == expected


@pytest.mark.parametrize("text", ["#call=lookup_order", "#call=lookup_order {broken", "#call_all"])
def test_generated_arguments_validate_against_the_schema(text: str) -> None:
    calls = dict(plan_directed_calls(text, OFFERED, SCHEMAS))
    jsonschema.validate(json.loads(calls["lookup_order"]), ORDER_SCHEMA)


def test_call_all_calls_every_offered_tool_once() -> None:
    calls = plan_directed_calls("#call_all", OFFERED, SCHEMAS)
    assert [name for name, _ in calls] == ["lookup_order", "ping"]


def test_stripping_leaves_the_rest_of_the_text() -> None:
    text = 'weather in Oslo #call=ping {"a": "b"} and #call_all more'
    assert strip_call_directives(text) == "weather in Oslo  and  more"


def test_next_turn_calls_a_user_tool_then_answers_with_its_output() -> None:
    first = next_turn(None, OFFERED, [user("#call=lookup_order")], schemas=SCHEMAS)
    assert isinstance(first, ToolCalls) and first.calls[0][0] == "lookup_order"
    answered = [
        user("#call=lookup_order"),
        {"type": "function_call", "call_id": "c1", "name": "lookup_order", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "shipped"},
    ]
    assert next_turn(None, OFFERED, answered, schemas=SCHEMAS) == FinalText(
        "Here is what I found: shipped"
    )


def test_a_directive_in_the_instructions_steers_every_run() -> None:
    turn = next_turn("#call_all", OFFERED, [user("anything")], schemas=SCHEMAS)
    assert isinstance(turn, ToolCalls) and len(turn.calls) == 2
