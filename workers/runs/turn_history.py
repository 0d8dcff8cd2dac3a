"""Recent turn durations per model, in Redis, so every worker plans its polls from the same
history (`turn_estimate` turns it into a plan)."""

from __future__ import annotations

import logging

import redis

from workers.redis_keys import turn_times_key

log = logging.getLogger("runq.runs")

KEEP = 50
"""Turns remembered per model: enough for a 90th percentile, few enough to follow a change."""


class RedisTurnTimes:
    """A capped list per model (LPUSH + LTRIM in one round trip). Redis errors cost only
    the plan: `recent` answers () and `record` drops the sample."""

    def __init__(self, client: redis.Redis, *, prefix: str, keep: int = KEEP) -> None:
        self._client = client
        self._prefix = prefix
        self._keep = keep

    def recent(self, model: str) -> tuple[float, ...]:
        """Durations of the model's latest turns, newest first."""
        try:
            raw = self._client.lrange(turn_times_key(self._prefix, model), 0, self._keep - 1)
        except redis.RedisError as exc:
            log.warning("turn history unavailable for %s: %r", model, exc)
            return ()
        return tuple(float(value) for value in raw)

    def record(self, model: str, duration_s: float) -> None:
        """Push one duration and trim the list to the newest `keep`."""
        key = turn_times_key(self._prefix, model)
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.lpush(key, f"{duration_s:.3f}")
            pipe.ltrim(key, 0, self._keep - 1)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("turn history not recorded for %s: %r", model, exc)
