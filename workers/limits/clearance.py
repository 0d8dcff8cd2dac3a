"""The shared API budget as the run steps see it: `Clearance` over the Redis token buckets.

Every provider call takes from the (API key, model) buckets first: create and submit charge
a token estimate plus one request, each poll one request. When the buckets say wait, the
step re-enqueues itself after that wait plus a little jitter, so throttled workers don't all
wake in the same millisecond.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from workers.backoff import stretch_s
from workers.limits.limiter import LimitKey, RateLimiter
from workers.limits.queue_slot import spacing_ms
from workers.limits.token_bucket import Limits
from workers.observability import events


class Clearance(Protocol):
    """The rate-limit seam: every provider call asks first and settles after."""

    def wait_s(
        self, *, model: str, api_key_id: str, tokens: int, holder: str | None = None
    ) -> float:
        """0 to go now, else seconds to wait before asking again. Takes the budget on 0. A
        `holder` that must wait reserves its place; its next ask goes once that is due."""
        ...

    def settle(
        self,
        *,
        model: str,
        api_key_id: str,
        estimated_tokens: int,
        counted_tokens: int | None,
        headers: Mapping[str, str],
    ) -> None:
        """Swap the reservation for what the provider counted; apply its headers."""
        ...

    def pause(self, *, model: str, api_key_id: str, delay_s: float) -> None:
        """The provider said 429: hold this key and model for everyone for `delay_s`."""
        ...

    def requests_scarce(self, *, model: str, api_key_id: str) -> bool:
        """The request budget made a call of this process wait within the last minute (no
        Redis read: what this process saw)."""
        ...


class NoLimits:
    """Clearance that always says go (no limits configured)."""

    def wait_s(
        self, *, model: str, api_key_id: str, tokens: int, holder: str | None = None
    ) -> float:
        return 0.0

    def settle(
        self,
        *,
        model: str,
        api_key_id: str,
        estimated_tokens: int,
        counted_tokens: int | None,
        headers: Mapping[str, str],
    ) -> None:
        return None

    def pause(self, *, model: str, api_key_id: str, delay_s: float) -> None:
        return None

    def requests_scarce(self, *, model: str, api_key_id: str) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class LimitTable:
    """Limits per model, with a default for every other model (0/0 = no limit)."""

    default: Limits
    per_model: Mapping[str, Limits]

    def for_model(self, model: str) -> Limits:
        """The limits that apply to `model`."""
        return self.per_model.get(model, self.default)


def binding_dimension(limits: Limits, tokens: int) -> str:
    """Which bucket made a call wait, as far as the limits tell without another read: a poll
    (0 tokens) or a model with no token limit waits on requests, one with no request limit
    on tokens; with both limits set it may be either."""
    if tokens == 0 or limits.tokens_per_min == 0:
        return "requests"
    if limits.requests_per_min == 0:
        return "tokens"
    return "requests_or_tokens"


_SCARCE_FOR_MS = 60_000
"""How long a take that found the request bucket low keeps turns synchronous: a bucket's
refill (unless a later take finds it refilled)."""

SCARCE_BELOW = 0.9
"""Requests are scarce once a take leaves the requests bucket below this share of its
capacity: the fleet is spending faster than the bucket refills. Waiting for the first wait
would be too late: by then every run in flight has started a background turn whose polls
spend the requests its creates need (200 runs at 300 RPM: 3.4 requests a run against 2.0)."""


class SharedBudget:
    """Clearance backed by a shared rate limiter (Redis in production)."""

    def __init__(
        self,
        limiter: RateLimiter,
        limits: LimitTable,
        now_ms: Callable[[], int],
        jitter: Callable[[], float],
    ) -> None:
        self._limiter = limiter
        self._limits = limits
        self._now_ms = now_ms
        self._jitter = jitter
        self._low_seen_at_ms: dict[LimitKey, int] = {}
        """When this process's last take found the requests bucket low (absent: not low). A
        take refused for want of requests always finds it low, so a wait needs no mark of
        its own."""

    def wait_s(
        self, *, model: str, api_key_id: str, tokens: int, holder: str | None = None
    ) -> float:
        """0 and the budget is taken, or seconds to wait before asking again.

        A `holder` (a run's step, which asks again until it goes) reserves its request when
        refused: it is charged now and told when the charge is covered, so throttled runs go
        one after another at the refill rate, none overtaken by a later caller, and the
        budget never refills unused while they sleep. Without a holder, or when a
        reservation would pass the debt floor or a 429's pause holds the key, the caller
        books a place in line behind every throttled caller before it (see `queue_slot`)."""
        key, limits = self._key(model, api_key_id)
        now_ms = self._now_ms()
        taken = self._limiter.take(key, limits, tokens, now_ms, holder)
        if taken.requests_left < SCARCE_BELOW * limits.requests_per_min:
            self._low_seen_at_ms[key] = now_ms
        else:
            self._low_seen_at_ms.pop(key, None)
        if taken.wait_ms <= 0:
            return 0.0
        if taken.reserved:
            # Exact, not stretched: the reservation is this caller's and nobody else's.
            wait_s = taken.wait_ms / 1000.0
        else:
            wait_ms = self._limiter.queue(key, now_ms, taken.wait_ms, spacing_ms(limits, tokens))
            wait_s = stretch_s(wait_ms / 1000.0, self._jitter())
        events.limiter_waited(
            model=model, dimension=binding_dimension(limits, tokens), wait_s=wait_s
        )
        return wait_s

    def requests_scarce(self, *, model: str, api_key_id: str) -> bool:
        """This process's last take, within the last minute (the bucket's refill window),
        found the requests bucket below `SCARCE_BELOW` full."""
        seen_at_ms = self._low_seen_at_ms.get(LimitKey(api_key_id, model))
        return seen_at_ms is not None and self._now_ms() - seen_at_ms < _SCARCE_FOR_MS

    def settle(
        self,
        *,
        model: str,
        api_key_id: str,
        estimated_tokens: int,
        counted_tokens: int | None,
        headers: Mapping[str, str],
    ) -> None:
        """Return or charge the difference between the reservation and what the provider
        counted; then let the provider's remaining-* headers correct the buckets."""
        key, limits = self._key(model, api_key_id)
        now_ms = self._now_ms()
        if counted_tokens is not None and estimated_tokens > 0:
            self._limiter.reconcile(key, limits, estimated_tokens, counted_tokens, now_ms)
        if headers:
            self._limiter.observe_headers(key, limits, headers, now_ms)

    def pause(self, *, model: str, api_key_id: str, delay_s: float) -> None:
        """A 429 pauses this key and model for every worker."""
        key, limits = self._key(model, api_key_id)
        self._limiter.pause(key, limits, int(delay_s * 1000), self._now_ms())

    def _key(self, model: str, api_key_id: str) -> tuple[LimitKey, Limits]:
        return LimitKey(api_key_id, model), self._limits.for_model(model)
