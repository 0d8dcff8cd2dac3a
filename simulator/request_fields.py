"""Request fields a Response echoes: validated, typed and defaulted the way OpenAI does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulator.errors import bad_request
from simulator.tools import resolve_tools


def conversation_id_of(value: object) -> str | None:
    """The id in `conversation` ("conv_…" or {"id": "conv_…"}), or None."""
    if isinstance(value, Mapping):
        value = value.get("id")
    if value is None or (isinstance(value, str) and value):
        return value
    raise bad_request("Invalid value for 'conversation'.", param="conversation")


def echoed_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """Request fields the Response echoes, validated and defaulted as OpenAI does."""
    text = optional_field(body, "text", dict)
    return {
        "background": bool(body.get("background", False)),
        "store": bool(body.get("store", True)),
        "instructions": optional_field(body, "instructions", str),
        "max_output_tokens": max_output_tokens_of(body),
        "metadata": metadata_of(body),
        "parallel_tool_calls": bool(body.get("parallel_tool_calls", True)),
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": resolve_tools(body.get("tools")),
        "temperature": number_field(body, "temperature", default=1.0),
        "top_p": number_field(body, "top_p", default=1.0),
        "text": dict(text) if text else {"format": {"type": "text"}},
        "truncation": optional_field(body, "truncation", str) or "disabled",
        "previous_response_id": optional_field(body, "previous_response_id", str),
    }


def number_field(body: Mapping[str, Any], name: str, *, default: float) -> float:
    """An optional number, as a float."""
    value = optional_field(body, name, int | float)
    return default if value is None else float(value)


def max_output_tokens_of(body: Mapping[str, Any]) -> int | None:
    """`max_output_tokens`: None or an integer of at least 16."""
    value = body.get("max_output_tokens")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 16:
        raise bad_request(
            f"Invalid 'max_output_tokens': expected an integer >= 16, but got {value!r} instead.",
            param="max_output_tokens",
            code="integer_below_min_value",
        )
    return value


def metadata_of(body: Mapping[str, Any]) -> dict[str, str]:
    """`metadata`: up to 16 string pairs."""
    value = body.get("metadata") or {}
    if not isinstance(value, dict) or len(value) > 16:
        raise bad_request("Invalid 'metadata': up to 16 string pairs.", param="metadata")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise bad_request("Invalid 'metadata': keys and values must be strings.", param="metadata")
    return dict(value)


def optional_field(body: Mapping[str, Any], name: str, kind: Any) -> Any:
    """`body[name]` if present and of type `kind`; None if absent; 400 otherwise."""
    value = body.get(name)
    if value is not None and not isinstance(value, kind):
        raise bad_request(f"Invalid type for '{name}'.", param=name, code="invalid_type")
    return value
