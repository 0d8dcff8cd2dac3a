"""Structured-output request shapes: one JSON schema, rendered for each provider surface.

The same schema travels differently per surface: Chat Completions (and Assistants runs) nest
it under `response_format.json_schema`; Responses puts it flat under `text.format`. Both are
sent with `strict: true` so the model's answer is guaranteed to match the schema, which in
turn requires a strict-compatible schema (`additionalProperties: false` on every object and
every property listed in `required`); the provider rejects any other schema with a 400.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from workers.errors import ConfigError
from workers.providers.interface import TurnRequest

# The providers accept schema names of letters, digits, `_` and `-`, at most 64 of them; we
# check here so a typo fails at configuration time instead of as a 400 in the middle of a run.
_SCHEMA_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def chat_response_format(schema_name: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """The Chat Completions `response_format` for `schema` (also the Assistants run shape)."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": _checked_name(schema_name),
            "schema": copy.deepcopy(dict(schema)),
            "strict": True,
        },
    }


def responses_text_format(schema_name: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """The Responses API `text` parameter that asks for output matching `schema`."""
    return {
        "format": {
            "type": "json_schema",
            "name": _checked_name(schema_name),
            "schema": copy.deepcopy(dict(schema)),
            "strict": True,
        }
    }


def _checked_name(schema_name: str) -> str:
    if not _SCHEMA_NAME.fullmatch(schema_name):
        raise ConfigError(
            f"structured output schema name {schema_name!r} must be 1-64 letters, digits, "
            "'_' or '-'"
        )
    return schema_name


def chat_format_of(request: TurnRequest) -> dict[str, Any] | None:
    """The Chat (and Assistants) `response_format` a request asks for, if any."""
    if request.output_schema is not None:
        return chat_response_format(request.output_schema_name, request.output_schema)
    if request.json_mode:
        return {"type": "json_object"}
    return None


def responses_format_of(request: TurnRequest) -> dict[str, Any] | None:
    """The Responses `text` parameter a request asks for, if any."""
    if request.output_schema is not None:
        return responses_text_format(request.output_schema_name, request.output_schema)
    if request.json_mode:
        return {"format": {"type": "json_object"}}
    return None


def chat_style_params(request: TurnRequest) -> dict[str, Any]:
    """The sampling and output parameters Chat Completions and Assistants runs share."""
    params: dict[str, Any] = {}
    if request.max_output_tokens is not None:
        params["max_completion_tokens"] = request.max_output_tokens
    if request.temperature is not None:
        params["temperature"] = request.temperature
    response_format = chat_format_of(request)
    if response_format is not None:
        params["response_format"] = response_format
    return params
