"""Assistants request bodies: validate them and build the stored objects and run settings.

Assistants, threads and messages are built straight into the shape the SDK parses; a run's
settings are the assistant's, overridden field by field by the run request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulator.assistant_state import RunSettings, ThreadRecord
from simulator.errors import ApiError, bad_request
from simulator.items import new_id
from simulator.request_fields import answer_format_of, metadata_of, number_field, optional_field
from simulator.tools import validate_nested_tools

TOOL_TYPES = ("code_interpreter", "file_search", "function")
MESSAGE_ROLES = ("user", "assistant")
PASSED_PARTS = ("image_file", "image_url")
# The API's lower bounds for run token budgets.
MIN_PROMPT_TOKENS = 256
MIN_COMPLETION_TOKENS = 16


def new_assistant(body: Mapping[str, Any], now_s: float) -> dict[str, Any]:
    """An Assistant object from a create body."""
    response_format = body.get("response_format") or "auto"
    answer_format_of(response_format)
    return {
        "id": new_id("asst"),
        "object": "assistant",
        "created_at": int(now_s),
        "name": optional_field(body, "name", str),
        "description": optional_field(body, "description", str),
        "model": required_string(body, "model"),
        "instructions": optional_field(body, "instructions", str),
        "tools": assistant_tools(body.get("tools")),
        "tool_resources": optional_field(body, "tool_resources", dict) or {},
        "metadata": metadata_of(body),
        "temperature": number_field(body, "temperature", default=1.0),
        "top_p": number_field(body, "top_p", default=1.0),
        "response_format": response_format,
    }


def new_thread(body: Mapping[str, Any], now_s: float) -> ThreadRecord:
    """A thread from a create body, with its initial `messages`."""
    thread = ThreadRecord(
        id=new_id("thread"),
        created_at=int(now_s),
        metadata=metadata_of(body),
        tool_resources=optional_field(body, "tool_resources", dict) or {},
    )
    thread.messages = new_messages(body.get("messages"), thread.id, now_s, param="messages")
    return thread


def new_messages(
    value: object, thread_id: str, now_s: float, *, param: str
) -> list[dict[str, Any]]:
    """Messages from a list of create bodies (None means none)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request(f"Invalid type for '{param}': expected an array.", param=param)
    return [
        new_message(raw, thread_id, now_s, param=f"{param}[{index}]")
        for index, raw in enumerate(value)
    ]


def new_message(raw: object, thread_id: str, now_s: float, *, param: str = "") -> dict[str, Any]:
    """A Message from a create body: `role`, `content` (string or parts), `metadata`."""
    prefix = f"{param}." if param else ""
    if not isinstance(raw, Mapping) or raw.get("role") not in MESSAGE_ROLES:
        raise bad_request(
            f"Invalid value for '{prefix}role': expected 'user' or 'assistant'.",
            param=f"{prefix}role",
            code="invalid_value",
        )
    attachments = optional_field(raw, "attachments", list) or []
    return message_json(
        thread_id,
        str(raw["role"]),
        _content(raw.get("content"), f"{prefix}content"),
        now_s,
        attachments=attachments,
        metadata=metadata_of(raw),
    )


def message_json(
    thread_id: str,
    role: str,
    content: list[dict[str, Any]],
    now_s: float,
    *,
    run_id: str | None = None,
    assistant_id: str | None = None,
    attachments: list[Any] | None = None,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A completed Message as the API shows it."""
    return {
        "id": new_id("msg"),
        "object": "thread.message",
        "created_at": int(now_s),
        "thread_id": thread_id,
        "status": "completed",
        "incomplete_details": None,
        "completed_at": int(now_s),
        "incomplete_at": None,
        "role": role,
        "content": content,
        "assistant_id": assistant_id,
        "run_id": run_id,
        "attachments": attachments or [],
        "metadata": metadata or {},
    }


def text_part(text: str) -> dict[str, Any]:
    """A text content part of a Message."""
    return {"type": "text", "text": {"value": text, "annotations": []}}


def run_settings(body: Mapping[str, Any], assistant: Mapping[str, Any]) -> RunSettings:
    """The settings of a new run: the assistant's, with the request's overrides."""
    instructions = optional_field(body, "instructions", str)
    if instructions is None:
        instructions = assistant["instructions"] or ""
    extra = optional_field(body, "additional_instructions", str)
    if extra:
        instructions = f"{instructions}\n{extra}" if instructions else extra
    tools = body.get("tools")
    response_format = body.get("response_format") or assistant["response_format"]
    return RunSettings(
        model=optional_field(body, "model", str) or assistant["model"],
        instructions=instructions,
        tools=assistant["tools"] if tools is None else assistant_tools(tools),
        tool_choice=body.get("tool_choice") or "auto",
        parallel_tool_calls=bool(body.get("parallel_tool_calls", True)),
        response_format=response_format,
        answer_format=answer_format_of(response_format),
        metadata=metadata_of(body),
        temperature=number_field(body, "temperature", default=assistant["temperature"]),
        top_p=number_field(body, "top_p", default=assistant["top_p"]),
        max_prompt_tokens=_budget(body, "max_prompt_tokens", MIN_PROMPT_TOKENS),
        max_completion_tokens=_budget(body, "max_completion_tokens", MIN_COMPLETION_TOKENS),
        truncation_strategy=optional_field(body, "truncation_strategy", dict)
        or {"type": "auto", "last_messages": None},
    )


def assistant_tools(value: object) -> list[dict[str, Any]]:
    """Tools an assistant or run may carry: code_interpreter, file_search, nested functions."""
    tools = validate_nested_tools(value)
    for index, tool in enumerate(tools):
        if tool["type"] not in TOOL_TYPES:
            raise bad_request(
                f"Invalid value for 'tools[{index}].type': expected one of "
                f"{', '.join(TOOL_TYPES)}.",
                param=f"tools[{index}].type",
                code="invalid_value",
            )
    return tools


def required_string(body: Mapping[str, Any], name: str) -> str:
    """A non-empty string field, or 400 missing_required_parameter."""
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise _missing(name)
    return value


def _content(value: object, param: str) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [text_part(value)]
    if not isinstance(value, list) or not value:
        raise _missing(param)
    parts: list[dict[str, Any]] = []
    for index, part in enumerate(value):
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text" and isinstance(part.get("text"), str):
            parts.append(text_part(part["text"]))
        elif kind in PASSED_PARTS:
            parts.append(dict(part))
        else:
            raise bad_request(
                f"Invalid content part at '{param}[{index}]': expected text, image_file or "
                "image_url.",
                param=f"{param}[{index}]",
                code="invalid_value",
            )
    return parts


def _budget(body: Mapping[str, Any], name: str, minimum: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise bad_request(
            f"Invalid '{name}': expected an integer >= {minimum}, but got {value!r} instead.",
            param=name,
            code="integer_below_min_value",
        )
    return value


def _missing(param: str) -> ApiError:
    return bad_request(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )
