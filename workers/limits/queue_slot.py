"""Pure: a place in line for throttled callers, so they wake one after another.

When the buckets say "wait N ms", every throttled caller hears the same N: they all wake
together, one gets the token, the rest ask again, and a budget-bound batch spends its CPU
asking. Instead each throttled caller books the next slot: no earlier than its own wait, and
`spacing_ms` after the last slot booked on the same key (the time the buckets need to refill
one caller's request). `queue_slot.lua` is the Redis twin of `next_slot_ms`.

No clock, no Redis: callers pass `now_ms` and the last slot.
"""

from __future__ import annotations

from workers.limits.token_bucket import Limits

MS_PER_MIN = 60_000


def spacing_ms(limits: Limits, tokens: int) -> int:
    """How long the buckets take to refill one request of `tokens` tokens (the binding one)."""
    per_request = MS_PER_MIN // limits.requests_per_min if limits.requests_per_min else 0
    per_tokens = tokens * MS_PER_MIN // limits.tokens_per_min if limits.tokens_per_min else 0
    return max(per_request, per_tokens)


def next_slot_ms(last_slot_ms: int | None, now_ms: int, wait_ms: int, spacing: int) -> int:
    """The slot (absolute ms) this caller books: after its own wait, and after the last one."""
    earliest = now_ms + max(0, wait_ms)
    if last_slot_ms is None:
        return earliest
    return max(earliest, last_slot_ms + spacing)
