"""Pure token arithmetic: estimates before a call, sums after it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from workers.providers.interface import Usage

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
    input_payload: str,
    tools: Sequence[Mapping[str, Any]],
    max_output_tokens: int,
) -> int:
    """Tokens to reserve before a call: the request body's size (instructions, the input as
    sent, tool schemas) plus the output cap. That is the rule OpenAI's limiter applies up
    front: an estimate from the character count plus `max_output_tokens`."""
    tool_text = json.dumps(list(tools), separators=(",", ":")) if tools else ""
    input_tokens = estimate_text_tokens((instructions or "") + input_payload + tool_text)
    return input_tokens + _FRAMING_TOKENS + max_output_tokens


def provider_counted_tokens(usage: Usage, max_output_tokens: int) -> int:
    """What the provider's TPM limiter counted for a finished turn.

    Its own count of the turn's new input (the cached, inherited context is excluded) plus
    the output cap: the cap is charged up front and not given back when the answer is
    shorter, so refunding it locally would spend budget the provider no longer has.
    """
    return max(0, usage.input_tokens - usage.cached_tokens) + max(
        max_output_tokens, usage.output_tokens
    )
