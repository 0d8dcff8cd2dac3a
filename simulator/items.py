"""Conversation items: turn request input into stored items with ids, and page through them.

Stored items use the shapes the SDK parses back (`ResponseInputMessageItem`,
`ResponseFunctionToolCallItem`, `ResponseFunctionToolCallOutputItem`, ...): every item has an
`id` and a `status`, and message content is always a list of parts.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from simulator.errors import ApiError, bad_request

Item = dict[str, Any]

_INPUT_ROLES = ("user", "system", "developer")
_INPUT_PARTS = ("input_text", "input_image", "input_file")
_ASSISTANT_PARTS = ("output_text", "refusal")


def new_id(prefix: str) -> str:
    """A fresh id with OpenAI's prefix for the kind of object (resp, msg, fc, call, conv, req)."""
    return f"{prefix}_{uuid.uuid4().hex}"


def normalize_input(value: object, *, param: str = "input") -> list[Item]:
    """Stored items for a request's `input` (a string or a list of items); 400 if malformed."""
    if isinstance(value, str):
        return [_message("user", [{"type": "input_text", "text": value}])]
    if not isinstance(value, list):
        raise bad_request(
            f"Invalid type for '{param}': expected a string or an array of input items.",
            param=param,
            code="invalid_type",
        )
    return [normalize_item(raw, param=f"{param}[{index}]") for index, raw in enumerate(value)]


def normalize_item(raw: object, *, param: str) -> Item:
    """One stored item; keeps a caller-supplied id, otherwise assigns one."""
    if not isinstance(raw, Mapping):
        raise bad_request(f"Invalid type for '{param}': expected an object.", param=param)
    kind = raw.get("type", "message")
    if kind == "message":
        return _normalize_message(raw, param)
    if kind == "function_call":
        fields = _require_strings(raw, ("call_id", "name", "arguments"), param)
        return {"id": _id_of(raw, "fc"), "type": "function_call", **fields, "status": "completed"}
    if kind == "function_call_output":
        call_id = _require_strings(raw, ("call_id",), param)["call_id"]
        output = raw.get("output")
        if not isinstance(output, str | list):
            raise _missing(f"{param}.output")
        return {
            "id": _id_of(raw, "fco"),
            "type": "function_call_output",
            "call_id": call_id,
            "output": output,
            "status": "completed",
        }
    if kind == "item_reference":
        raise bad_request(
            "The simulator does not resolve item_reference; send the item itself.", param=param
        )
    return {**raw, "id": _id_of(raw, "item")}


def page(items: Sequence[Item], *, limit: int, order: str, after: str | None) -> dict[str, Any]:
    """The list envelope over `items` (stored oldest first), as `limit`/`order`/`after` ask."""
    if order not in ("asc", "desc"):
        raise bad_request("Invalid value for 'order': expected 'asc' or 'desc'.", param="order")
    if not 1 <= limit <= 100:
        raise bad_request("Invalid value for 'limit': expected 1 to 100.", param="limit")
    ordered = list(items) if order == "asc" else list(reversed(items))
    start = 0
    if after is not None:
        ids = [item["id"] for item in ordered]
        start = ids.index(after) + 1 if after in ids else len(ordered)
    data = ordered[start : start + limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": start + limit < len(ordered),
    }


def _normalize_message(raw: Mapping[str, Any], param: str) -> Item:
    role = raw.get("role")
    if role == "assistant":
        parts = _parts(raw.get("content"), "output_text", _ASSISTANT_PARTS, param)
        for part in parts:
            if part["type"] == "output_text":
                part.setdefault("annotations", [])
                part.setdefault("logprobs", [])
        return _message("assistant", parts, raw)
    if role not in _INPUT_ROLES:
        raise bad_request(
            f"Invalid value for '{param}.role': expected one of user, system, developer, "
            "assistant.",
            param=f"{param}.role",
            code="invalid_value",
        )
    return _message(str(role), _parts(raw.get("content"), "input_text", _INPUT_PARTS, param), raw)


def _parts(content: object, text_type: str, allowed: tuple[str, ...], param: str) -> list[Item]:
    if isinstance(content, str):
        return [{"type": text_type, "text": content}]
    if not isinstance(content, list):
        raise _missing(f"{param}.content")
    parts: list[Item] = []
    for index, part in enumerate(content):
        if not isinstance(part, Mapping) or part.get("type") not in allowed:
            raise bad_request(
                f"Invalid content part at '{param}.content[{index}]': expected one of "
                f"{', '.join(allowed)}.",
                param=f"{param}.content[{index}]",
                code="invalid_value",
            )
        parts.append(dict(part))
    return parts


def _message(role: str, content: list[Item], raw: Mapping[str, Any] | None = None) -> Item:
    item_id = _id_of(raw, "msg") if raw is not None else new_id("msg")
    return {
        "id": item_id,
        "type": "message",
        "role": role,
        "content": content,
        "status": "completed",
    }


def _require_strings(raw: Mapping[str, Any], names: tuple[str, ...], param: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for name in names:
        value = raw.get(name)
        if not isinstance(value, str) or not value:
            raise _missing(f"{param}.{name}")
        values[name] = value
    return values


def _id_of(raw: Mapping[str, Any], prefix: str) -> str:
    given = raw.get("id")
    return given if isinstance(given, str) and given else new_id(prefix)


def _missing(param: str) -> ApiError:
    return bad_request(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )
