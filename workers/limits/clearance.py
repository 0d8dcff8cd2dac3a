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
        """The request budget is spent faster than it refills: this process's last take
        found it low, or the steps waiting on the runs queue or held by workers would
        take it low."""
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
refill (unless a later take finds it refilled). After that the bucket counts as full again."""

SCARCE_BELOW = 0.9
"""Requests are scarce once a take leaves the requests bucket below this share of its
capacity: the fleet is spending faster than the bucket refills. Waiting for the first wait
would be too late: by then every run in flight has started a background turn whose polls
spend the requests its creates need (200 runs at 300 RPM: 3.4 requests a run against 2.0).

Even that is late for the first runs of a burst: they start while the bucket is still full.
So the backlog counts too: each step waiting on the runs queue or held by a worker (a start,
a submit, a poll waiting out its countdown) asks for a request within moments, and a level
that the backlog would take below the line is scarce already."""


@dataclass(frozen=True, slots=True)
class _Seen:
    """What this process's last take of a key and model found."""

    at_ms: int
    requests_left: float


class SharedBudget:
    """Clearance backed by a shared rate limiter (Redis in production)."""

    def __init__(
        self,
        limiter: RateLimiter,
        limits: LimitTable,
        now_ms: Callable[[], int],
        jitter: Callable[[], float],
        backlog: Callable[[], int],
    ) -> None:
        self._limiter = limiter
        self._limits = limits
        self._now_ms = now_ms
        self._jitter = jitter
        self._backlog = backlog
        """How many steps wait on the runs queue (0 when unknown)."""
        self._seen: dict[LimitKey, _Seen] = {}
        """What this process's last take of each key found in the requests bucket. A take
        refused for want of requests always finds it low, so a wait needs no mark of its
        own."""

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
        self._seen[key] = _Seen(now_ms, taken.requests_left)
        if taken.wait_ms <= 0:
            return 0.0
        if taken.reserved:
            # Exact, not stretched: the reservation is this caller's and nobody else's.
            wait_s = taken.wait_ms / 1000.0
        else:
            wait_ms = self._limiter.queue(key, now_ms, taken.wait_ms, spacing_ms(limits, tokens))
            wait_s = stretch_s(wait_ms / 1000.0, self._jitter())
        events.limiter_waited(
            model=model,
            dimension=binding_dimension(limits, tokens),
            wait_s=wait_s,
            reserved=taken.reserved,
        )
        return wait_s

    def requests_scarce(self, *, model: str, api_key_id: str) -> bool:
        """The requests bucket is below `SCARCE_BELOW` full, or would be once the steps
        waiting on the runs queue or held by workers take their requests. Its level is what
        this process's last take found within the last minute (the bucket's refill window),
        else full; the backlog is read only when that level alone does not decide."""
        key, limits = self._key(model, api_key_id)
        if limits.requests_per_min == 0:
            return False
        line = SCARCE_BELOW * limits.requests_per_min
        seen = self._seen.get(key)
        fresh = seen is not None and self._now_ms() - seen.at_ms < _SCARCE_FOR_MS
        left = seen.requests_left if seen is not None and fresh else limits.requests_per_min
        return left < line or left - self._backlog() < line

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
