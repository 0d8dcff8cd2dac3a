"""Canonical request -> cache key: equal keys mean the provider would be asked the same thing.

Only the fields that change the answer are hashed (`ANSWER_FIELDS`); run ids, metadata and
the like are ignored. The JSON is canonical: sorted object keys, no whitespace, integral
floats written as integers (1.0 == 1), a missing top-level field the same as None, and the
tool list sorted (the model sees tools as a set). Everything else keeps its order: the order
of input messages and history is part of the question.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

KEY_VERSION = "v2"
"""Prefixed to every key so a change of canonical form cannot collide with old keys (v2: the
owner joined the key, so no v1 entry written without an owner can be read by anyone)."""

ANSWER_FIELDS = (
    "owner",
    "provider",
    "base_url",
    "model",
    "instructions",
    "input",
    "tools",
    "response_format",
    "temperature",
    "top_p",
    "max_output_tokens",
    "seed",
    "history",
)


def build_cache_key(request: Mapping[str, Any]) -> str:
    """`v2:` + sha256 hex of the canonical JSON of the request's answer-changing fields.

    Raises TypeError for values JSON cannot hold and ValueError for NaN or infinity.
    """
    canonical: dict[str, Any] = {}
    for field in ANSWER_FIELDS:
        value = request.get(field)
        if value is None:
            continue
        canonical[field] = _sorted_tools(value) if field == "tools" else _normalise(value)
    text = json.dumps(
        canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return f"{KEY_VERSION}:{hashlib.sha256(text.encode('utf-8')).hexdigest()}"


def _normalise(value: Any) -> Any:
    # bool is an int subclass: keep it before the number cases so True never becomes 1.
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, bytes | bytearray):
        raise TypeError("cannot build a cache key from bytes")
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [_normalise(item) for item in value]
    raise TypeError(f"cannot build a cache key from {type(value).__name__}")


def _tool_sort_key(tool: Any) -> tuple[str, str]:
    name = ""
    if isinstance(tool, Mapping):
        # Responses tools carry `name`; Chat Completions nests it under `function`.
        function = tool.get("function")
        nested = function.get("name") if isinstance(function, Mapping) else None
        name = str(tool.get("name") or nested or "")
    # Canonical JSON breaks ties (e.g. built-in tools with no name) so any order sorts alike.
    return name, json.dumps(tool, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _sorted_tools(tools: Any) -> list[Any]:
    if isinstance(tools, str | bytes) or not isinstance(tools, Sequence):
        raise TypeError("tools must be a list of schemas")
    return sorted((_normalise(tool) for tool in tools), key=_tool_sort_key)
