"""The demo tools' schemas as the tests send them, written once for every surface."""

from __future__ import annotations

from typing import Any

WEATHER: dict[str, Any] = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
        "additionalProperties": False,
    },
}
SEARCH: dict[str, Any] = {
    "name": "search_documents",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
}


def responses_tool(spec: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A function tool as the Responses API takes it (flat)."""
    return {"type": "function", **spec, **extra}


def chat_tool(spec: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A function tool as Chat Completions and Assistants take it (nested under `function`)."""
    return {"type": "function", "function": {**spec, **extra}}
