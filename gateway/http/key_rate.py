"""Requests per API key: one token bucket per key in Redis, shared by every API process.

The bucket is the limiter's own (`token_bucket.lua`, the requests dimension only), keyed by
the API key's id, so `runq serve --workers 4` or four replicas still allow N a minute in
all. The limit protects the fleet, not a secret: if Redis cannot answer, the request goes
through (and the failure is logged) rather than the whole API going down with the cache.
"""

from __future__ import annotations

import logging

import redis

from workers.public.budgets import LimitKey, Limits, RedisRateLimiter

log = logging.getLogger("runq.http.rate")

BUCKET_MODEL = "http-api"
"""The limiter's second key part: the API's buckets never meet a provider's."""


class KeyRateLimit:
    """`wait_ms(key_id, now_ms)`: 0 to go (one request charged), else how long to wait."""

    def __init__(self, limiter: RedisRateLimiter | None, requests_per_min: int) -> None:
        self._limiter = limiter
        self._limits = Limits(requests_per_min=requests_per_min, tokens_per_min=0)

    @property
    def requests_per_min(self) -> int:
        """The limit per key (0: none)."""
        return self._limits.requests_per_min

    def wait_ms(self, key_id: str, now_ms: int) -> int:
        """Charge one request to the key's bucket; 0 means go."""
        if self._limiter is None or self._limits.is_unlimited:
            return 0
        try:
            return self._limiter.take(
                LimitKey(api_key_fingerprint=f"apikey-{key_id}", model=BUCKET_MODEL),
                self._limits,
                0,
                now_ms,
            ).wait_ms
        except (redis.RedisError, OSError) as exc:
            log.warning("API rate limit not checked (Redis: %s); letting the request through", exc)
            return 0
