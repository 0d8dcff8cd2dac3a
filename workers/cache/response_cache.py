"""Read-through cache of provider responses in Redis, with TTL and fleet-wide hit/miss counts.

The cache is an optimisation, never a dependency: it may live on a separate, evicting Redis
that can be full, restarting or down. So every Redis error is logged as a warning and treated
as a miss (on get) or skipped (on put), and a run never fails because of the cache.
Give it a client with short socket timeouts and no retries (`retry=Retry(NoBackoff(), 0)`):
redis-py's default retries with backoff would turn a dead cache into seconds of delay per call.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis

from workers import redis_keys
from workers.observability import events

logger = logging.getLogger(__name__)

DEFAULT_TTL_S = 3600

_HITS_FIELD = "hits"
_MISSES_FIELD = "misses"


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Hit and miss counts shared by every worker since the counters were last cleared."""

    hits: int
    misses: int


class ResponseCache:
    """JSON provider responses keyed by `cache_key.build_cache_key`, expiring after `ttl_s`."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = redis_keys.DEFAULT_PREFIX,
        ttl_s: int = DEFAULT_TTL_S,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s}")
        self._client = client
        self._prefix = prefix
        self._ttl_s = ttl_s

    def get(self, cache_key: str) -> dict[str, Any] | None:
        """The cached response, or None; counts a hit or a miss. Never raises on Redis errors."""
        try:
            raw = self._client.get(redis_keys.cache_entry_key(self._prefix, cache_key))
        except redis.RedisError as exc:
            logger.warning("response cache get failed, treating as a miss: %s", exc)
            events.cache_looked_up("error")
            return None
        value = _decode(raw, cache_key)
        events.cache_looked_up("miss" if value is None else "hit")
        self._count(_MISSES_FIELD if value is None else _HITS_FIELD)
        return value

    def put(self, cache_key: str, value: Mapping[str, Any], ttl_s: int | None = None) -> None:
        """Store `value` as JSON for `ttl_s` (default: the cache's). Skips on Redis errors.

        Raises TypeError if `value` is not JSON-serialisable: that is a bug, not an outage.
        """
        ttl_s = self._ttl_s if ttl_s is None else ttl_s
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s}")
        payload = json.dumps(value, separators=(",", ":"), allow_nan=False)
        try:
            self._client.set(redis_keys.cache_entry_key(self._prefix, cache_key), payload, ex=ttl_s)
        except redis.RedisError as exc:
            logger.warning("response cache put failed, skipping: %s", exc)

    def stats(self) -> CacheStats:
        """The shared counters. Unlike get/put this raises on Redis errors: it is for reports."""
        hits, misses = self._client.hmget(
            redis_keys.cache_stats_key(self._prefix), [_HITS_FIELD, _MISSES_FIELD]
        )
        return CacheStats(hits=int(hits or 0), misses=int(misses or 0))

    def _count(self, field: str) -> None:
        try:
            self._client.hincrby(redis_keys.cache_stats_key(self._prefix), field, 1)
        except redis.RedisError as exc:
            logger.warning("response cache %s counter not updated: %s", field, exc)


def _decode(raw: Any, cache_key: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        logger.warning("response cache entry %s is not JSON, treating as a miss", cache_key)
        return None
    if not isinstance(value, dict):
        logger.warning("response cache entry %s is not an object, treating as a miss", cache_key)
        return None
    return value
