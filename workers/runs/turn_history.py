"""Recent turn durations per model, in Redis, so every worker plans its polls from the same
history (`turn_estimate` turns it into a plan)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

from workers.redis_keys import turn_times_key

log = logging.getLogger("runq.runs")

KEEP = 50
"""Turns remembered per model: enough for a 90th percentile, few enough to follow a change."""


REREAD_S = 1.0
"""How long a process plans from the history it last read: at load, every turn would
otherwise read the list once (a Redis round trip per turn), for a plan that a second's
worth of other workers' turns hardly moves. Its own turns are added as it records them."""


class RedisTurnTimes:
    """A capped list per model (an LPUSH per turn, trimmed to `keep` once it holds twice
    that), read at most once a second per process. Redis errors cost only the plan:
    `recent` answers () and `record` drops the sample."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str,
        keep: int = KEEP,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._keep = keep
        self._clock = clock
        self._read: dict[str, tuple[float, tuple[float, ...]]] = {}
        """model -> (when read, durations newest first); replaced whole, never mutated, so
        threads may share it without a lock."""

    def recent(self, model: str) -> tuple[float, ...]:
        """Durations of the model's latest turns, newest first."""
        now = self._clock()
        held = self._read.get(model)
        if held is not None and now - held[0] < REREAD_S:
            return held[1]
        try:
            raw = self._client.lrange(turn_times_key(self._prefix, model), 0, self._keep - 1)
        except redis.RedisError as exc:
            log.warning("turn history unavailable for %s: %r", model, exc)
            return ()
        durations = tuple(float(value) for value in raw)
        self._read[model] = (now, durations)
        return durations

    def record(self, model: str, duration_s: float) -> None:
        """Push one duration and trim the list to the newest `keep`."""
        key = turn_times_key(self._prefix, model)
        held = self._read.get(model)
        if held is not None:
            self._read[model] = (held[0], ((duration_s, *held[1])[: self._keep]))
        try:
            length = int(self._client.lpush(key, f"{duration_s:.3f}"))
            if length > 2 * self._keep:
                # Trimmed now and then, not per push: readers take the newest `keep` anyway.
                self._client.ltrim(key, 0, self._keep - 1)
        except redis.RedisError as exc:
            log.warning("turn history not recorded for %s: %r", model, exc)
