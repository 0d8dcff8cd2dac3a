"""Recent turn durations per model, in Redis, so every worker plans its polls from the same
history (`turn_estimate` turns it into a plan)."""

from __future__ import annotations

import logging
import threading
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
    """A capped list per model, read at most once a second per process and written at most
    once a second per process (the turns recorded meanwhile go in one LPUSH), trimmed to
    `keep` once it holds twice that. Redis errors cost only the plan: `recent` answers ()
    and `record` drops the samples.

    A process's own turns are in its plan at once; other processes' within a second or so.
    Samples still held when a process dies are lost, which costs an estimate nothing."""

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
        self._lock = threading.Lock()
        self._unsent: dict[str, list[float]] = {}
        """model -> durations recorded here and not pushed yet, oldest first."""
        self._pushed_at: dict[str, float] = {}

    def recent(self, model: str) -> tuple[float, ...]:
        """Durations of the model's latest turns, newest first."""
        now = self._clock()
        held = self._read.get(model)
        if held is not None and now - held[0] < REREAD_S:
            return held[1]
        self._push(model, now)  # what the list is read back with includes this process's turns
        try:
            raw = self._client.lrange(turn_times_key(self._prefix, model), 0, self._keep - 1)
        except redis.RedisError as exc:
            log.warning("turn history unavailable for %s: %r", model, exc)
            return ()
        durations = tuple(float(value) for value in raw)
        self._read[model] = (now, durations)
        return durations

    def record(self, model: str, duration_s: float) -> None:
        """Add one duration: to this process's plan now, to the shared list within a second."""
        held = self._read.get(model)
        if held is not None:
            self._read[model] = (held[0], ((duration_s, *held[1])[: self._keep]))
        now = self._clock()
        with self._lock:
            self._unsent.setdefault(model, []).append(duration_s)
            due = now - self._pushed_at.get(model, float("-inf")) >= REREAD_S
        if due:
            self._push(model, now)

    def _push(self, model: str, now: float) -> None:
        with self._lock:
            unsent = self._unsent.pop(model, [])
            self._pushed_at[model] = now
        if not unsent:
            return
        key = turn_times_key(self._prefix, model)
        try:
            # Oldest first, so the newest ends at the head, where readers look.
            length = int(self._client.lpush(key, *(f"{d:.3f}" for d in unsent[-self._keep :])))
            if length > 2 * self._keep:
                # Trimmed now and then, not per push: readers take the newest `keep` anyway.
                self._client.ltrim(key, 0, self._keep - 1)
        except redis.RedisError as exc:
            log.warning("turn history not recorded for %s: %r", model, exc)
