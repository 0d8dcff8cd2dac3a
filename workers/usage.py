"""Pure token arithmetic: estimates before a call, sums after it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

# About four characters per token for English text and JSON: the classic rule of thumb.
# It only needs to be close: the limiter reconciles with the real usage afterwards.
_CHARS_PER_TOKEN = 4
# Per-message framing the provider adds around each input item.
_FRAMING_TOKENS = 8


def estimate_text_tokens(text: str) -> int:
    """Rough token count of `text` (at least 1)."""
    return max(1, -(-len(text) // _CHARS_PER_TOKEN))


def estimate_request_tokens(
    *,
    instructions: str | None,
    input_text: str,
    tools: Sequence[Mapping[str, Any]],
    max_output_tokens: int,
) -> int:
    """Tokens to reserve before a call: estimated input plus the output cap."""
    tool_text = json.dumps(list(tools), separators=(",", ":")) if tools else ""
    input_tokens = estimate_text_tokens((instructions or "") + input_text + tool_text)
    return input_tokens + _FRAMING_TOKENS + max_output_tokens
