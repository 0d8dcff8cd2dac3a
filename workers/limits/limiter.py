"""The shared API budget: every worker process takes from the same buckets in Redis.

`RedisRateLimiter` runs `token_bucket.lua`, the only code that changes limiter state, so a
take over both buckets is atomic across the fleet. `InMemoryRateLimiter` has the same methods
over the pure model in `token_bucket.py`, for unit tests of callers.

Limits of 0/0 turn the limiter off for that key: nothing is read or written.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Protocol

import redis

from workers import redis_keys
from workers.limits import queue_slot, token_bucket
from workers.limits.queue_slot import MS_PER_MIN
from workers.limits.token_bucket import BucketPair, Limits, TakeResult

REMAINING_REQUESTS_HEADER = "x-ratelimit-remaining-requests"
REMAINING_TOKENS_HEADER = "x-ratelimit-remaining-tokens"
_ABSENT = -1
"""How the Lua script is told a remaining-* header was missing."""
UNLIMITED = TakeResult(wait_ms=0, requests_left=0)
"""A take on a key with no limits: go, and nothing is counted."""
_STATE_FIELDS = ("requests_units", "tokens_units", "updated_ms", "paused_until_ms")
"""The fields of the state hash, as `token_bucket.lua` writes them."""


@dataclass(frozen=True, slots=True)
class LimitKey:
    """What a budget belongs to: one API key (by fingerprint) and one model."""

    api_key_fingerprint: str
    model: str


class RateLimiter(Protocol):
    """What callers need from a limiter; `RedisRateLimiter` and `InMemoryRateLimiter` fit."""

    def take(
        self, key: LimitKey, limits: Limits, tokens: int, now_ms: int, holder: str | None = None
    ) -> TakeResult: ...

    def reconcile(
        self, key: LimitKey, limits: Limits, estimated_tokens: int, actual_tokens: int, now_ms: int
    ) -> None: ...

    def observe_headers(
        self, key: LimitKey, limits: Limits, headers: Mapping[str, str], now_ms: int
    ) -> None: ...

    def pause(self, key: LimitKey, limits: Limits, delay_ms: int, now_ms: int) -> None: ...

    def queue(self, key: LimitKey, now_ms: int, wait_ms: int, spacing_ms: int) -> int: ...


def read_remaining(headers: Mapping[str, str]) -> tuple[int | None, int | None]:
    """(remaining requests, remaining tokens) from response headers; None when absent or bad."""
    lowered = {name.lower(): value for name, value in headers.items()}
    return _parse_count(lowered.get(REMAINING_REQUESTS_HEADER)), _parse_count(
        lowered.get(REMAINING_TOKENS_HEADER)
    )


def _parse_count(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        return None
    return value if value >= 0 else None


class RedisRateLimiter:
    """Token buckets in Redis, shared by every worker; each call is one atomic script run."""

    def __init__(self, client: redis.Redis, prefix: str = redis_keys.DEFAULT_PREFIX) -> None:
        self._client = client
        self._prefix = prefix
        source = files("workers.limits").joinpath("token_bucket.lua").read_text(encoding="utf-8")
        self._script = client.register_script(source)
        line = files("workers.limits").joinpath("queue_slot.lua").read_text(encoding="utf-8")
        self._queue_script = client.register_script(line)

    def queue(self, key: LimitKey, now_ms: int, wait_ms: int, spacing_ms: int) -> int:
        """Book the next slot in line (see `queue_slot`); returns this caller's wait in ms."""
        queue_key = redis_keys.rate_limit_queue_key(
            self._prefix, key.api_key_fingerprint, key.model
        )
        return int(self._queue_script(keys=[queue_key], args=[now_ms, wait_ms, spacing_ms]))

    def take(
        self, key: LimitKey, limits: Limits, tokens: int, now_ms: int, holder: str | None = None
    ) -> TakeResult:
        """Charge one request and `tokens` tokens on both buckets, or neither.

        wait_ms 0 means go. Otherwise nothing was charged and the caller should try again in
        wait_ms. Either way it says how many requests the bucket holds now.

        A `holder` (one caller that asks again until it goes: a run's step) reserves instead
        of being refused (`token_bucket.take(reserve=True)`), and its next take goes once the
        reservation is due, without a second charge.
        """
        if tokens < 0:
            raise ValueError(f"tokens must be >= 0, got {tokens}")
        if limits.is_unlimited:
            return UNLIMITED
        keys = [self._redis_key(key)]
        if holder is not None:
            keys.append(
                redis_keys.rate_limit_hold_key(
                    self._prefix, key.api_key_fingerprint, key.model, holder
                )
            )
        args: list[str | int] = [
            "take",
            now_ms,
            limits.requests_per_min,
            limits.tokens_per_min,
            tokens,
            limits.headroom_ms,
        ]
        wait_ms, requests_left, reserved = self._script(keys=keys, args=args)
        return TakeResult(int(wait_ms), int(requests_left), bool(reserved))

    def reconcile(
        self, key: LimitKey, limits: Limits, estimated_tokens: int, actual_tokens: int, now_ms: int
    ) -> None:
        """Charge or give back `actual_tokens - estimated_tokens` once usage is known."""
        if limits.tokens_per_min == 0 or estimated_tokens == actual_tokens:
            return
        self._run(key, limits, "reconcile", now_ms, estimated_tokens, actual_tokens)

    def observe_headers(
        self, key: LimitKey, limits: Limits, headers: Mapping[str, str], now_ms: int
    ) -> None:
        """Lower our buckets to the provider's x-ratelimit-remaining-* counts (never raise)."""
        remaining_requests, remaining_tokens = read_remaining(headers)
        if limits.is_unlimited or (remaining_requests is None and remaining_tokens is None):
            return
        self._run(
            key,
            limits,
            "correct",
            now_ms,
            _ABSENT if remaining_requests is None else remaining_requests,
            _ABSENT if remaining_tokens is None else remaining_tokens,
        )

    def pause(self, key: LimitKey, limits: Limits, delay_ms: int, now_ms: int) -> None:
        """Refuse every take on this key+model, by every worker, for `delay_ms` (a 429's hint)."""
        if limits.is_unlimited or delay_ms <= 0:
            return
        self._run(key, limits, "pause", now_ms, now_ms + delay_ms)

    def read_state(self, key: LimitKey) -> BucketPair | None:
        """The stored state as last written (not refilled), or None if absent or expired."""
        stored = self._client.hmget(self._redis_key(key), list(_STATE_FIELDS))
        if any(value is None for value in stored):
            return None
        requests_units, tokens_units, updated_ms, paused_until_ms = (
            int(value) for value in stored if value is not None
        )
        return BucketPair(requests_units, tokens_units, updated_ms, paused_until_ms)

    def _redis_key(self, key: LimitKey) -> str:
        return redis_keys.rate_limit_key(self._prefix, key.api_key_fingerprint, key.model)

    def _run(self, key: LimitKey, limits: Limits, op: str, now_ms: int, *extra: int) -> Any:
        """Run one op of the script; its reply as Redis gave it (see the script's header)."""
        args: list[str | int] = [
            op,
            now_ms,
            limits.requests_per_min,
            limits.tokens_per_min,
            *extra,
        ]
        return self._script(keys=[self._redis_key(key)], args=args)


class InMemoryRateLimiter:
    """The pure model behind the `RedisRateLimiter` interface, for one process's tests."""

    def __init__(self) -> None:
        self._states: dict[LimitKey, BucketPair] = {}
        self._slots: dict[LimitKey, int] = {}
        self._held: dict[tuple[LimitKey, str], int] = {}
        """(key, holder) -> when its reservation is due (ms). Not expired, unlike Redis's."""
        self._lock = threading.Lock()

    def queue(self, key: LimitKey, now_ms: int, wait_ms: int, spacing_ms: int) -> int:
        """Book the next slot in line; returns this caller's wait in ms."""
        with self._lock:
            last = self._slots.get(key)
            if last is not None and last + MS_PER_MIN < now_ms:
                last = None  # the Redis key would have expired
            slot = queue_slot.next_slot_ms(last, now_ms, wait_ms, spacing_ms)
            self._slots[key] = slot
        return slot - now_ms

    def take(
        self, key: LimitKey, limits: Limits, tokens: int, now_ms: int, holder: str | None = None
    ) -> TakeResult:
        """Charge one request and `tokens` tokens on both buckets, or neither (a `holder`
        reserves instead; see `RedisRateLimiter.take`)."""
        if tokens < 0:
            raise ValueError(f"tokens must be >= 0, got {tokens}")
        if limits.is_unlimited:
            return UNLIMITED
        with self._lock:
            state = self._load(key, limits, now_ms)
            if holder is not None and (due_ms := self._held.get((key, holder))) is not None:
                answer = token_bucket.claim_reserved(state, limits, due_ms, now_ms)
                if answer.wait_ms == 0:
                    del self._held[(key, holder)]
                return answer
            result, self._states[key] = token_bucket.take(
                state, limits, tokens, now_ms, reserve=holder is not None
            )
            if result.reserved and holder is not None:
                self._held[(key, holder)] = now_ms + result.wait_ms
        return result

    def reconcile(
        self, key: LimitKey, limits: Limits, estimated_tokens: int, actual_tokens: int, now_ms: int
    ) -> None:
        """Charge or give back `actual_tokens - estimated_tokens` once usage is known."""
        if limits.tokens_per_min == 0 or estimated_tokens == actual_tokens:
            return
        with self._lock:
            self._states[key] = token_bucket.reconcile(
                self._load(key, limits, now_ms), limits, estimated_tokens, actual_tokens, now_ms
            )

    def observe_headers(
        self, key: LimitKey, limits: Limits, headers: Mapping[str, str], now_ms: int
    ) -> None:
        """Lower our buckets to the provider's x-ratelimit-remaining-* counts (never raise)."""
        remaining_requests, remaining_tokens = read_remaining(headers)
        if limits.is_unlimited or (remaining_requests is None and remaining_tokens is None):
            return
        with self._lock:
            self._states[key] = token_bucket.correct_from_headers(
                self._load(key, limits, now_ms),
                limits,
                remaining_requests,
                remaining_tokens,
                now_ms,
            )

    def pause(self, key: LimitKey, limits: Limits, delay_ms: int, now_ms: int) -> None:
        """Refuse every take on this key+model for `delay_ms`."""
        if limits.is_unlimited or delay_ms <= 0:
            return
        with self._lock:
            self._states[key] = token_bucket.pause(
                self._load(key, limits, now_ms), now_ms + delay_ms
            )

    def read_state(self, key: LimitKey) -> BucketPair | None:
        """The state as last written (not refilled), or None if never touched."""
        with self._lock:
            return self._states.get(key)

    def _load(self, key: LimitKey, limits: Limits, now_ms: int) -> BucketPair:
        # Same as the Lua script: a key never seen starts full. No expiry is modelled because
        # an expired Redis hash and a long-idle one are the same state (see the Lua header).
        return self._states.get(key) or token_bucket.full_buckets(limits, now_ms)
