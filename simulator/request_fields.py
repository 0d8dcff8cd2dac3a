"""Request fields a Response echoes: validated, typed and defaulted the way OpenAI does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulator.errors import bad_request
from simulator.schema_answer import PLAIN_TEXT, AnswerFormat
from simulator.tools import resolve_tools, strict_schema_problem


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


def answer_format_of_text(text: Mapping[str, Any]) -> AnswerFormat:
    """The answer format a Responses `text.format` asks for (the schema sits on the format)."""
    value = text.get("format") or {"type": "text"}
    return _answer_format(value, value, param="text.format")


def answer_format_of(value: object, *, param: str = "response_format") -> AnswerFormat:
    """The answer format a Chat/Assistants `response_format` asks for ("auto" means text).

    There the schema is nested: {"type": "json_schema", "json_schema": {name, schema, strict}}.
    """
    if value is None or value == "auto":
        return PLAIN_TEXT
    if not isinstance(value, Mapping):
        raise bad_request(f"Invalid type for '{param}'.", param=param, code="invalid_type")
    holder = value.get("json_schema") if value.get("type") == "json_schema" else value
    return _answer_format(value, holder, param=param)


def _answer_format(value: object, holder: object, *, param: str) -> AnswerFormat:
    kind = value.get("type") if isinstance(value, Mapping) else None
    if kind in ("text", "json_object"):
        return AnswerFormat(kind)
    if kind != "json_schema":
        raise bad_request(
            f"Invalid value for '{param}.type': expected text, json_object or json_schema.",
            param=f"{param}.type",
            code="invalid_value",
        )
    name = holder.get("name") if isinstance(holder, Mapping) else None
    schema = (holder.get("schema") or {}) if isinstance(holder, Mapping) else None
    if not isinstance(name, str) or not name or not isinstance(schema, Mapping):
        raise bad_request(
            f"Missing required parameter: '{param}.name' (with an object 'schema').",
            param=f"{param}.name",
            code="missing_required_parameter",
        )
    problem = strict_schema_problem(schema)
    if isinstance(holder, Mapping) and holder.get("strict") is True and problem:
        raise bad_request(
            f"Invalid schema for response_format '{name}': {problem}",
            param=param,
            code="invalid_json_schema",
        )
    return AnswerFormat("json_schema", dict(schema))
