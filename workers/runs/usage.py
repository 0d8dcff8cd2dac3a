"""Pure token arithmetic: estimates before a call, sums after it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workers.limits.spend import usage_micros
from workers.providers.interface import TurnRequest, Usage

# About four characters per token for English text and JSON: the classic rule of thumb.
# It only needs to be close: the limiter reconciles with the real usage afterwards.
_CHARS_PER_TOKEN = 4
# Per-message framing the provider adds around each input item.
_FRAMING_TOKENS = 8
# The provider counts the request as it renders it (tool wrappers, JSON spacing) while we
# count what we are about to send; without a margin the estimate runs a few percent short
# and the shared budget overshoots (measured: 5 provider 429s in 1,800 requests).
_INPUT_MARGIN = 1.15


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
    tool_text = json.dumps(list(tools)) if tools else ""
    input_tokens = estimate_text_tokens((instructions or "") + input_payload + tool_text)
    return int(input_tokens * _INPUT_MARGIN) + _FRAMING_TOKENS + max_output_tokens


def estimate_turn_tokens(request: TurnRequest, input_payload: str) -> int:
    """`estimate_request_tokens` for one turn of `request` that sends `input_payload`."""
    return estimate_request_tokens(
        instructions=request.instructions,
        input_payload=input_payload,
        tools=request.tools,
        max_output_tokens=request.max_output_tokens or 0,
    )


def provider_counted_tokens(usage: Usage, max_output_tokens: int) -> int:
    """What the provider's TPM limiter counted for a finished turn.

    Its own count of the turn's new input (the cached, inherited context is excluded) plus
    the output cap: the cap is charged up front and not given back when the answer is
    shorter, so refunding it locally would spend budget the provider no longer has.
    """
    return max(0, usage.input_tokens - usage.cached_tokens) + max(
        max_output_tokens, usage.output_tokens
    )


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million tokens of one model."""

    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None = None


def cost_usd(usage: Usage, price: Price | None) -> float:
    """What `usage` cost at `price` (0 when the model has no price configured)."""
    if price is None:
        return 0.0
    # The same sum the dollar budgets charge (rounded up there), so the two never disagree.
    return usage_micros(usage, price) / 1_000_000


def keep_newest_within(
    groups: Sequence[Sequence[Mapping[str, Any]]], budget_tokens: int
) -> list[Sequence[Mapping[str, Any]]]:
    """The newest whole groups of messages whose estimated size fits `budget_tokens`.

    Groups are never split (a tool call stays with its output); order is kept."""
    kept: list[Sequence[Mapping[str, Any]]] = []
    used = 0
    for group in reversed(groups):
        size = sum(estimate_text_tokens(json.dumps(message)) for message in group)
        if used + size > budget_tokens:
            break
        kept.append(group)
        used += size
    return list(reversed(kept))
