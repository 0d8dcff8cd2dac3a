"""Two continuously refilled buckets per (API key, model): requests and tokens.

This is the reference model of `token_bucket.lua`, which is the only code that changes the
state in Redis. Both do the same integer arithmetic, so one table of cases gives identical
answers on this module, fakeredis and a real Redis.

Fixed point: one request (or token) is `UNITS_PER_TOKEN` = 60 000 units. A limit of L per
minute then refills exactly L units per millisecond, so every quantity is an integer and no
rounding ever happens. Lua 5.1 numbers are doubles, exact up to 2**53, which keeps limits up to
about 7 * 10**10 per minute exact (debt plus a full charge is 2 capacities).

Pure: no clock, no I/O. `now_ms` is always a parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

UNITS_PER_TOKEN = 60_000
"""Fixed-point scale: a limit of L per minute refills L units per ms."""

MS_PER_MIN = 60_000

FULL_REFILL_MS = 2 * MS_PER_MIN
"""Longest refill there is: from the debt floor (-capacity) to full (+capacity)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-minute ceilings for one (key, model); 0 means unlimited for that dimension."""

    requests_per_min: int
    tokens_per_min: int
    headroom_ms: int = 0
    """A take leaves this much refill in the requests bucket. A request reaches the provider
    a moment after it was taken, by a varying delay; the provider's bucket, which stopped
    filling while full, can then see requests closer together than ours allowed them. The
    headroom absorbs that delay's variation (it never exceeds the bucket: at 1/min there is
    none)."""

    def __post_init__(self) -> None:
        if self.requests_per_min < 0 or self.tokens_per_min < 0 or self.headroom_ms < 0:
            raise ValueError(f"limits must be >= 0, got {self}")

    @property
    def is_unlimited(self) -> bool:
        """True when neither dimension is limited: the limiter has nothing to do."""
        return self.requests_per_min == 0 and self.tokens_per_min == 0


@dataclass(frozen=True, slots=True)
class BucketPair:
    """Both buckets of one (key, model), in fixed-point units (see `UNITS_PER_TOKEN`).

    A dimension whose limit is 0 keeps its units at 0 and is ignored.
    """

    requests_units: int
    tokens_units: int
    updated_ms: int
    paused_until_ms: int = 0

    @property
    def requests_available(self) -> float:
        """Requests left, as a float (may be fractional while refilling)."""
        return self.requests_units / UNITS_PER_TOKEN

    @property
    def tokens_available(self) -> float:
        """Tokens left, as a float; negative means debt from an under-estimate."""
        return self.tokens_units / UNITS_PER_TOKEN


@dataclass(frozen=True, slots=True)
class TakeResult:
    """Outcome of `take`: 0 means go (both buckets charged), otherwise wait this long."""

    wait_ms: int
    requests_left: int
    """Whole requests in the requests bucket after the take (0 with no request limit): how
    close the budget is to binding, read in the same atomic step. Negative while reserved
    requests are still being refilled."""
    reserved: bool = False
    """A refused take that reserved its place (`take(..., reserve=True)`): both buckets were
    charged now, ahead of their refill, and the caller goes at `wait_ms` without being
    charged again."""


def full_buckets(limits: Limits, now_ms: int) -> BucketPair:
    """The starting state: both buckets full."""
    return BucketPair(
        requests_units=limits.requests_per_min * UNITS_PER_TOKEN,
        tokens_units=limits.tokens_per_min * UNITS_PER_TOKEN,
        updated_ms=now_ms,
    )


def _refill_one(units: int, limit_per_min: int, elapsed_ms: int) -> int:
    capacity = limit_per_min * UNITS_PER_TOKEN
    if elapsed_ms >= FULL_REFILL_MS:
        # Clamp before multiplying so a long idle gap cannot overflow Lua's exact range.
        return capacity
    return min(capacity, units + elapsed_ms * limit_per_min)


def refill(state: BucketPair, limits: Limits, now_ms: int) -> BucketPair:
    """Add what accrued since `updated_ms`, capped at capacity.

    Workers' clocks disagree a little, so a `now_ms` older than `updated_ms` refills nothing
    and never moves `updated_ms` backwards.
    """
    elapsed_ms = max(0, now_ms - state.updated_ms)
    return replace(
        state,
        requests_units=_refill_one(state.requests_units, limits.requests_per_min, elapsed_ms),
        tokens_units=_refill_one(state.tokens_units, limits.tokens_per_min, elapsed_ms),
        updated_ms=max(state.updated_ms, now_ms),
    )


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def _wait_for(units: int, needed_units: int, limit_per_min: int) -> int:
    if limit_per_min == 0 or units >= needed_units:
        return 0
    return _ceil_div(needed_units - units, limit_per_min)


def _charge_tokens(units: int, tokens: int, limit_per_min: int) -> int:
    capacity = limit_per_min * UNITS_PER_TOKEN
    return max(-capacity, min(capacity, units - tokens * UNITS_PER_TOKEN))


def take(
    state: BucketPair, limits: Limits, tokens: int, now_ms: int, *, reserve: bool = False
) -> tuple[TakeResult, BucketPair]:
    """Charge one request and `tokens` tokens atomically, or neither and say how long to wait.

    `wait_ms` is the time until both buckets hold enough, and never ends before
    `paused_until_ms`. A request costing more tokens than the bucket can hold waits for a
    full bucket and is then charged in full: the bucket goes into debt (floored at
    -capacity) so the overspend is paid back before anyone else goes. Refusing it would
    strand it forever, and our estimate (input + max_output_tokens) is pessimistic, so the
    provider may well accept it.

    With `reserve`, a take refused only for want of refill (not a pause) is charged all the
    same, into debt, and says when its charge is covered: each reserving caller then waits
    one request's refill longer than the one before it, nobody who comes later can take its
    place, and the buckets never sit full while callers sleep. A reservation that would pass
    the debt floor (-capacity) is refused as before.
    """
    if tokens < 0:
        raise ValueError(f"tokens must be >= 0, got {tokens}")
    state = refill(state, limits, now_ms)
    needed_tokens_units = min(tokens, limits.tokens_per_min) * UNITS_PER_TOKEN
    rpm = limits.requests_per_min
    needed_requests_units = min(UNITS_PER_TOKEN + limits.headroom_ms * rpm, rpm * UNITS_PER_TOKEN)
    wait_ms = max(
        state.paused_until_ms - now_ms,
        _wait_for(state.requests_units, needed_requests_units, rpm),
        _wait_for(state.tokens_units, needed_tokens_units, limits.tokens_per_min),
        0,
    )
    if wait_ms > 0 and not (reserve and _may_reserve(state, limits, tokens, now_ms)):
        return TakeResult(wait_ms, state.requests_units // UNITS_PER_TOKEN), state
    charged = replace(
        state,
        requests_units=(state.requests_units - UNITS_PER_TOKEN if limits.requests_per_min else 0),
        tokens_units=_charge_tokens(state.tokens_units, tokens, limits.tokens_per_min),
    )
    return TakeResult(wait_ms, charged.requests_units // UNITS_PER_TOKEN, wait_ms > 0), charged


def claim_reserved(state: BucketPair, limits: Limits, due_ms: int, now_ms: int) -> TakeResult:
    """The take of a caller holding a reservation due at `due_ms`: go once it is due and no
    pause holds the key (it was charged when it reserved), else wait. Changes no state."""
    left = refill(state, limits, now_ms).requests_units // UNITS_PER_TOKEN
    wait_ms = max(due_ms - now_ms, state.paused_until_ms - now_ms, 0)
    return TakeResult(wait_ms, left, wait_ms > 0)


def _may_reserve(state: BucketPair, limits: Limits, tokens: int, now_ms: int) -> bool:
    """A refused take may reserve: no pause holds the key, and its charge stays above the
    debt floor of both buckets."""
    rpm, tpm = limits.requests_per_min, limits.tokens_per_min
    requests_ok = rpm == 0 or state.requests_units - UNITS_PER_TOKEN >= -rpm * UNITS_PER_TOKEN
    tokens_ok = tpm == 0 or state.tokens_units - tokens * UNITS_PER_TOKEN >= -tpm * UNITS_PER_TOKEN
    return state.paused_until_ms <= now_ms and requests_ok and tokens_ok


def reconcile(
    state: BucketPair, limits: Limits, estimated_tokens: int, actual_tokens: int, now_ms: int
) -> BucketPair:
    """Charge (or give back) the difference between the tokens reserved and those used.

    Tokens may go negative (debt), floored at -capacity so one huge surprise cannot lock the
    key for more than two minutes; they never rise above capacity.
    """
    state = refill(state, limits, now_ms)
    return replace(
        state,
        tokens_units=_charge_tokens(
            state.tokens_units, actual_tokens - estimated_tokens, limits.tokens_per_min
        ),
    )


def correct_from_headers(
    state: BucketPair,
    limits: Limits,
    remaining_requests: int | None,
    remaining_tokens: int | None,
    now_ms: int,
) -> BucketPair:
    """Lower our counts to what the provider says is left; `None` means the header was absent.

    Never raises them: other clients (other deployments, people's notebooks) may share the
    API key, so the provider's number only ever tells us there is less than we thought.
    Trusting a higher number would also undo charges for calls still in flight.
    """
    state = refill(state, limits, now_ms)
    requests_units = state.requests_units
    tokens_units = state.tokens_units
    if remaining_requests is not None and limits.requests_per_min:
        requests_units = min(requests_units, max(0, remaining_requests) * UNITS_PER_TOKEN)
    if remaining_tokens is not None and limits.tokens_per_min:
        tokens_units = min(tokens_units, max(0, remaining_tokens) * UNITS_PER_TOKEN)
    return replace(state, requests_units=requests_units, tokens_units=tokens_units)


def pause(state: BucketPair, until_ms: int) -> BucketPair:
    """Refuse every take until `until_ms`; an existing longer pause is kept."""
    return replace(state, paused_until_ms=max(state.paused_until_ms, until_ms))


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_MS_PER_UNIT = {"h": 3_600_000, "m": 60_000, "s": 1_000, "ms": 1}


def parse_reset_duration_ms(text: str) -> int:
    """Parse a Go-style duration (`20ms`, `6m0s`, `23h18m29.144s`) into whole ms, rounded up.

    Raises ValueError on anything else, including an empty string.
    """
    text = text.strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"not a Go duration: {text!r}")
    # Sum in micro-ms to keep `4m12.172s` exact without float error, then round up.
    total_ums = 0
    for number, unit in parts:
        whole, _, fraction = number.partition(".")
        fraction_ums = int((fraction + "000000")[:6]) if fraction else 0
        total_ums += (int(whole) * 1_000_000 + fraction_ums) * _MS_PER_UNIT[unit]
    return _ceil_div(total_ums, 1_000_000)
