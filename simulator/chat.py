"""Chat Completions: check a message list, show it to the script as items, build the reply.

Chat keeps no state between calls: the client resends the whole conversation, so the pairing of
assistant `tool_calls` with `tool` messages is checked on every request. The script sees the
same items a Responses request would: messages, `function_call`s and `function_call_output`s.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from simulator import script
from simulator.errors import ApiError, bad_request
from simulator.items import Item, new_id
from simulator.request_fields import answer_format_of
from simulator.tools import function_schemas, nested_function_names, validate_nested_tools

ROLES = ("system", "developer", "user", "assistant", "tool")
DEFAULT_MAX_COMPLETION_TOKENS = 256
MAX_CHOICES = 8


def create_completion(body: Mapping[str, Any], now_s: float) -> dict[str, Any]:
    """The ChatCompletion for a create request; 400 for a bad body, 500 for a #fail turn."""
    model = model_of(body)
    items = chat_items(body.get("messages"))
    tools = validate_nested_tools(body.get("tools"))
    answer_format = answer_format_of(body.get("response_format"))
    offered = nested_function_names(tools, body.get("tool_choice", "auto"))
    count, cap = _choice_count(body), token_cap(body)
    turn = script.next_turn(
        _system_text(items), offered, items, answer_format, function_schemas(tools)
    )
    if isinstance(turn, script.Failure):
        # Chat answers synchronously, so a failed generation can only be an HTTP error.
        raise ApiError(500, turn.message, error_type="server_error")
    if body.get("parallel_tool_calls") is False and isinstance(turn, script.ToolCalls):
        turn = script.ToolCalls(turn.calls[:1])
    prompt_tokens = script.estimate_input_tokens(None, tools, items)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(now_s),
        "model": model,
        "choices": [_choice(turn, index) for index in range(count)],
        "usage": _usage(turn, prompt_tokens, cap, count),
        "service_tier": "default",
        "system_fingerprint": "fp_simulator",
    }


def model_of(body: Mapping[str, Any]) -> str:
    """The requested model; 400 when missing or when streaming is asked for."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _missing("model")
    if body.get("stream"):
        raise bad_request(
            "Streaming is not simulated: the simulator answers chat completions only with "
            "stream=false.",
            param="stream",
        )
    return model


def token_cap(body: Mapping[str, Any]) -> int | None:
    """`max_completion_tokens`, or the legacy `max_tokens`: None or a positive integer."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad_request(
                f"Invalid '{name}': expected an integer >= 1, but got {value!r} instead.",
                param=name,
                code="integer_below_min_value",
            )
        return value
    return None


def chat_items(messages: object) -> list[Item]:
    """The script's view of a `messages` list; 400 for malformed or unpaired messages."""
    if not isinstance(messages, list) or not messages:
        raise _missing("messages")
    items: list[Item] = []
    for index, message in enumerate(messages):
        items.extend(_items_of(message, index))
    check_tool_pairing(messages)
    return items


def check_tool_pairing(messages: Sequence[Mapping[str, Any]]) -> None:
    """Every assistant `tool_calls` message is followed by one `tool` message per call id, and
    every `tool` message answers a call of the assistant message before it."""
    offered: set[str] = set()
    pending: list[str] = []
    for index, message in enumerate(messages):
        if message["role"] == "tool":
            call_id = message["tool_call_id"]
            _check_answer(call_id, offered, index)
            pending = [pending_id for pending_id in pending if pending_id != call_id]
            continue
        if pending:
            raise _unanswered(pending, index)
        calls = message.get("tool_calls") or []
        offered = {call["id"] for call in calls}
        pending = [call["id"] for call in calls]
    if pending:
        raise _unanswered(pending, len(messages))


def _items_of(message: object, index: int) -> list[Item]:
    param = f"messages.[{index}]"
    if not isinstance(message, Mapping) or message.get("role") not in ROLES:
        raise bad_request(
            f"Invalid value for '{param}.role': expected one of {', '.join(ROLES)}.",
            param=f"{param}.role",
            code="invalid_value",
        )
    role, content = message["role"], message.get("content")
    text = script.content_text(content)
    if role == "tool":
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise _missing(f"{param}.tool_call_id")
        return [{"type": "function_call_output", "call_id": call_id, "output": text}]
    calls = _tool_calls_of(message, param) if role == "assistant" else []
    if content is None and not calls:
        raise _missing(f"{param}.content")
    shown = [{"type": "message", "role": role, "content": text}] if text else []
    return shown + [
        {
            "type": "function_call",
            "call_id": call["id"],
            "name": call["function"]["name"],
            "arguments": call["function"]["arguments"],
        }
        for call in calls
    ]


def _tool_calls_of(message: Mapping[str, Any], param: str) -> list[Mapping[str, Any]]:
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise bad_request(f"Invalid type for '{param}.tool_calls'.", param=f"{param}.tool_calls")
    for position, call in enumerate(calls):
        function = call.get("function") if isinstance(call, Mapping) else None
        if (
            not isinstance(function, Mapping)
            or not isinstance(call.get("id"), str)
            or not isinstance(function.get("name"), str)
            or not isinstance(function.get("arguments"), str)
        ):
            raise _missing(f"{param}.tool_calls.[{position}].function")
    return calls


def _check_answer(call_id: str, offered: set[str], index: int) -> None:
    param = f"messages.[{index}]"
    if not offered:
        raise bad_request(
            "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
            "message with 'tool_calls'.",
            param=f"{param}.role",
        )
    if call_id not in offered:
        raise bad_request(
            f"Invalid parameter: 'tool_call_id' of '{call_id}' not found in 'tool_calls' of "
            "previous message.",
            param=f"{param}.tool_call_id",
        )


def _unanswered(pending: list[str], index: int) -> ApiError:
    return bad_request(
        "An assistant message with 'tool_calls' must be followed by tool messages responding "
        "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        + ", ".join(pending),
        param=f"messages.[{index}].role",
    )


def _choice(turn: script.Turn, index: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    finish_reason = "length"
    if isinstance(turn, script.ToolCalls):
        message["tool_calls"] = [
            {"id": new_id("call"), "type": "function", "function": {"name": n, "arguments": a}}
            for n, a in turn.calls
        ]
        finish_reason = "tool_calls"
    elif isinstance(turn, script.FinalText):
        message["content"], finish_reason = turn.text, "stop"
    else:
        message["content"] = ""
    message["annotations"] = []
    return {"index": index, "message": message, "finish_reason": finish_reason, "logprobs": None}


def _system_text(items: list[Item]) -> str:
    """System and developer messages play the part of Responses `instructions`, so their
    directives hold for every turn."""
    roles = ("system", "developer")
    return "\n".join(item["content"] for item in items if item.get("role") in roles)


def _usage(turn: script.Turn, prompt_tokens: int, cap: int | None, count: int) -> dict[str, Any]:
    if isinstance(turn, script.Incomplete):
        # What a reasoning model does when the cap runs out: all of it spent thinking.
        completion_tokens = reasoning_tokens = cap or DEFAULT_MAX_COMPLETION_TOKENS
    else:
        completion_tokens, reasoning_tokens = script.estimate_output_tokens(turn), 0
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens * count,
        "total_tokens": prompt_tokens + completion_tokens * count,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning_tokens * count,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _choice_count(body: Mapping[str, Any]) -> int:
    value = body.get("n", 1)
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CHOICES:
        raise bad_request(f"Invalid 'n': expected 1 to {MAX_CHOICES}.", param="n")
    return value


def _missing(param: str) -> ApiError:
    return bad_request(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )
