"""Tool echoing: `strict` resolution, strict-schema rejection, and tool_choice filtering, in the
flat Responses shape and the nested Chat Completions / Assistants shape."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.errors import ApiError
from simulator.tools import (
    nested_function_names,
    offered_function_names,
    resolve_tools,
    strict_schema_problem,
    validate_nested_tools,
)

STRICT_OK = {
    "type": "object",
    "properties": {"location": {"type": "string"}},
    "required": ["location"],
    "additionalProperties": False,
}
LOOSE = {"type": "object", "properties": {"location": {"type": "string"}}}


def function(name: str = "get_weather", **extra: Any) -> dict[str, Any]:
    return {"type": "function", "name": name, **extra}


@pytest.mark.parametrize(
    ("tool", "strict"),
    [
        (function(parameters=STRICT_OK), True),
        (function(parameters=LOOSE), False),
        (function(parameters=LOOSE, strict=False), False),
        (function(parameters=STRICT_OK, strict=False), False),
        (function(), True),
    ],
)
def test_strict_is_resolved(tool: dict[str, Any], strict: bool) -> None:
    [echoed] = resolve_tools([tool])
    assert echoed["strict"] is strict
    assert "parameters" in echoed and "description" in echoed


def test_strict_true_with_a_loose_schema_is_a_400() -> None:
    with pytest.raises(ApiError) as caught:
        resolve_tools([function(parameters=LOOSE, strict=True)])
    assert caught.value.status_code == 400
    assert caught.value.param == "tools[0].parameters"
    assert "additionalProperties" in caught.value.message


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        (STRICT_OK, None),
        ({**STRICT_OK, "required": []}, "Missing 'location'"),
        (
            {
                **STRICT_OK,
                "properties": {"inner": {"type": "object", "properties": {"x": {}}}},
                "required": ["inner"],
            },
            "'properties', 'inner'",
        ),
        ({"type": "array", "items": LOOSE}, "'items'"),
    ],
)
def test_strict_schema_problem(schema: dict[str, Any], fragment: str | None) -> None:
    problem = strict_schema_problem(schema)
    if fragment is None:
        assert problem is None
    else:
        assert problem is not None and fragment in problem


def test_hosted_tools_are_echoed_untouched() -> None:
    assert resolve_tools([{"type": "web_search"}]) == [{"type": "web_search"}]


@pytest.mark.parametrize(
    ("tool_choice", "names"),
    [
        ("auto", ["get_weather", "search_documents"]),
        ("required", ["get_weather", "search_documents"]),
        ("none", []),
        ({"type": "function", "name": "search_documents"}, ["search_documents"]),
        (
            {
                "type": "allowed_tools",
                "mode": "auto",
                "tools": [{"type": "function", "name": "get_weather"}],
            },
            ["get_weather"],
        ),
    ],
)
def test_offered_function_names(tool_choice: Any, names: list[str]) -> None:
    tools = [function("get_weather"), function("search_documents"), {"type": "web_search"}]
    assert offered_function_names(tools, tool_choice) == names


def nested(name: str = "get_weather", **extra: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, **extra}}


def test_nested_tools_default_to_non_strict_and_keep_their_shape() -> None:
    tools = validate_nested_tools([nested(parameters=STRICT_OK), {"type": "file_search"}])
    function = {"name": "get_weather", "parameters": STRICT_OK, "strict": False}
    assert tools == [{"type": "function", "function": function}, {"type": "file_search"}]


@pytest.mark.parametrize(
    ("tools", "param"),
    [
        ([nested(parameters=LOOSE, strict=True)], "tools[0].parameters"),
        ([{"type": "function"}], "tools[0].function"),
        ([{"type": "function", "function": {}}], "tools[0].name"),
        ("get_weather", "tools"),
    ],
)
def test_bad_nested_tools_are_a_400(tools: Any, param: str) -> None:
    with pytest.raises(ApiError) as caught:
        validate_nested_tools(tools)
    assert caught.value.param == param


@pytest.mark.parametrize(
    ("tool_choice", "names"),
    [
        ("auto", ["get_weather", "search_documents"]),
        ("none", []),
        ({"type": "function", "function": {"name": "search_documents"}}, ["search_documents"]),
        (
            {
                "type": "allowed_tools",
                "allowed_tools": {"mode": "auto", "tools": [nested("get_weather")]},
            },
            ["get_weather"],
        ),
    ],
)
def test_nested_function_names(tool_choice: Any, names: list[str]) -> None:
    tools = [nested("get_weather"), nested("search_documents"), {"type": "code_interpreter"}]
    assert nested_function_names(tools, tool_choice) == names
