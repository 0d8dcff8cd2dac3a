"""Request `tools` and `tool_choice`: validate, resolve `strict`, list what the model may call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simulator.errors import bad_request


def resolve_tools(value: object) -> list[dict[str, Any]]:
    """The tools to echo on the Response, with function tools' `strict` made explicit.

    As on OpenAI: `strict: true` with a schema strict mode cannot take is a 400; an omitted
    `strict` becomes true when the schema qualifies and false when it does not.
    """
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request("Invalid type for 'tools': expected an array.", param="tools")
    resolved: list[dict[str, Any]] = []
    for index, tool in enumerate(value):
        if not isinstance(tool, Mapping) or not isinstance(tool.get("type"), str):
            raise bad_request(f"Invalid tool at 'tools[{index}]'.", param=f"tools[{index}]")
        resolved.append(_resolve_function(tool, index) if tool["type"] == "function" else {**tool})
    return resolved


def offered_function_names(tools: Sequence[Mapping[str, Any]], tool_choice: object) -> list[str]:
    """Function names the model may call under `tool_choice` ("none" hides every tool)."""
    names = [str(tool["name"]) for tool in tools if tool.get("type") == "function"]
    if tool_choice == "none":
        return []
    if isinstance(tool_choice, Mapping):
        if tool_choice.get("type") == "function":
            return [name for name in names if name == tool_choice.get("name")]
        if tool_choice.get("type") == "allowed_tools":
            allowed = {
                t.get("name") for t in tool_choice.get("tools", []) if isinstance(t, Mapping)
            }
            return [name for name in names if name in allowed]
    return names


def function_schemas(tools: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Parameter schemas by function name, from the flat (Responses) or nested (Chat) shape."""
    schemas: dict[str, Mapping[str, Any]] = {}
    for tool in tools:
        if tool.get("type") == "function":
            function = tool.get("function", tool)
            schemas[str(function.get("name"))] = function.get("parameters") or {}
    return schemas


def nested_function_names(tools: Sequence[Mapping[str, Any]], tool_choice: object) -> list[str]:
    """`offered_function_names` for the nested Chat/Assistants shapes, where a function tool is
    {"type": "function", "function": {"name": ...}} and so is a named tool_choice."""
    flat = [
        {"type": "function", "name": tool["function"]["name"]}
        for tool in tools
        if tool.get("type") == "function"
    ]
    return offered_function_names(flat, _flat_tool_choice(tool_choice))


def validate_nested_tools(value: object) -> list[dict[str, Any]]:
    """Nested function tools (and other tool types, kept as sent); `strict` defaults to false.

    Chat Completions and Assistants nest the definition under "function"; a strict schema
    strict mode cannot take is a 400, as in the Responses shape.
    """
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request("Invalid type for 'tools': expected an array.", param="tools")
    tools: list[dict[str, Any]] = []
    for index, tool in enumerate(value):
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(tool, Mapping) or not isinstance(tool.get("type"), str):
            raise bad_request(f"Invalid tool at 'tools[{index}]'.", param=f"tools[{index}]")
        if tool["type"] != "function":
            tools.append(dict(tool))
            continue
        if not isinstance(function, Mapping):
            raise bad_request(
                f"Missing required parameter: 'tools[{index}].function'.",
                param=f"tools[{index}].function",
                code="missing_required_parameter",
            )
        flat = _resolve_function({**function, "strict": function.get("strict") is True}, index)
        nested = {key: flat[key] for key in flat if key in function}
        tools.append({"type": "function", "function": {**nested, "strict": flat["strict"]}})
    return tools


def _flat_tool_choice(tool_choice: object) -> object:
    if not isinstance(tool_choice, Mapping):
        return tool_choice
    if tool_choice.get("type") == "function":
        return {"type": "function", "name": (tool_choice.get("function") or {}).get("name")}
    allowed = tool_choice.get("allowed_tools")
    if tool_choice.get("type") == "allowed_tools" and isinstance(allowed, Mapping):
        names = [
            (tool.get("function") or {}).get("name")
            for tool in allowed.get("tools", [])
            if isinstance(tool, Mapping)
        ]
        return {"type": "allowed_tools", "tools": [{"name": name} for name in names]}
    return tool_choice


def strict_schema_problem(schema: object, path: str = "") -> str | None:
    """Why `schema` cannot run in strict mode, or None when it can."""
    if not isinstance(schema, Mapping):
        return None
    problem = _object_problem(schema, path)
    if problem:
        return problem
    for child_path, child in _children(schema, path):
        problem = strict_schema_problem(child, child_path)
        if problem:
            return problem
    return None


def _object_problem(schema: Mapping[str, Any], path: str) -> str | None:
    if schema.get("type") != "object" and "properties" not in schema:
        return None
    context = f"In context=({path})"
    if schema.get("additionalProperties") is not False:
        return f"{context}, 'additionalProperties' is required to be supplied and to be false."
    missing = sorted(set(schema.get("properties") or {}) - set(schema.get("required") or []))
    if missing:
        return (
            f"{context}, 'required' is required to be supplied and to be an array including "
            f"every key in properties. Missing '{missing[0]}'."
        )
    return None


def _children(schema: Mapping[str, Any], path: str) -> list[tuple[str, object]]:
    prefix = f"{path}, " if path else ""
    children: list[tuple[str, object]] = []
    for key in ("properties", "$defs", "definitions"):
        for name, sub in (schema.get(key) or {}).items():
            children.append((f"{prefix}'{key}', '{name}'", sub))
    for key in ("items", "anyOf"):
        subs = schema.get(key)
        for sub in subs if isinstance(subs, list) else [subs]:
            children.append((f"{prefix}'{key}'", sub))
    return children


def _resolve_function(tool: Mapping[str, Any], index: int) -> dict[str, Any]:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise bad_request(
            f"Missing required parameter: 'tools[{index}].name'.",
            param=f"tools[{index}].name",
            code="missing_required_parameter",
        )
    parameters = tool.get("parameters")
    problem = strict_schema_problem(parameters) if parameters is not None else None
    strict = tool.get("strict")
    if strict is True and problem:
        raise bad_request(
            f"Invalid schema for function '{name}': {problem}",
            param=f"tools[{index}].parameters",
            code="invalid_function_parameters",
        )
    if strict is None:
        strict = problem is None
    return {
        **tool,
        "type": "function",
        "name": name,
        "description": tool.get("description"),
        "parameters": parameters,
        "strict": bool(strict),
    }
