"""Run events: every transition the store commits is also told to Redis, best effort.

Each run has a capped stream (`XADD … MAXLEN ~`) that expires, so a client can replay what
it missed by event id, and one shared pub/sub channel names the run that moved, so API
processes wake only the clients waiting on it. The database stays the truth: a lost event
costs a client a wake-up (it re-reads the run at its timeout), never a run step.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import redis

from workers.db.statuses import TERMINAL_EVENT_TYPES
from workers.redis_keys import run_events_channel, run_events_key

log = logging.getLogger("runq.events")


class RunEventSink(Protocol):
    """Where the store tells what it committed (the seam: Redis, or nothing in unit tests)."""

    def append(self, run_id: str, event_type: str, data: Mapping[str, Any]) -> None:
        """Record one event; never raises."""
        ...

    def append_all(self, run_id: str, events: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Record events committed together, in order; never raises."""
        ...


ALWAYS_REFRESH = TERMINAL_EVENT_TYPES | {"run.requires_action", "run.requires_approval"}
"""Events that always refresh their stream's TTL: a run's last event, and a wait that may
last long (the stream must outlive it by the full TTL, whoever wrote the events before)."""

REFRESH_EVERY_S = 600.0
"""A process refreshes a run's TTL at most this often for its other run events (never more
than half the TTL): the TTL is a day, and a run's steps come seconds apart."""

REMEMBERED_RUNS = 50_000
"""Runs whose last refresh a process remembers; past that it forgets them all at once (a
forgotten run is refreshed again at its next event)."""


class RedisRunEvents:
    """Run events on Redis streams, with a short timeout: a slow Redis costs an event."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str,
        ttl_s: int,
        max_len: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl_s = ttl_s
        self._max_len = max_len
        self._clock = clock
        self._refresh_every_s = min(REFRESH_EVERY_S, ttl_s / 2)
        self._refreshed: dict[str, float] = {}
        """run id -> when this process last refreshed its stream's TTL."""

    def append(self, run_id: str, event_type: str, data: Mapping[str, Any]) -> None:
        self.append_all(run_id, ((event_type, data),))

    def append_all(self, run_id: str, events: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """XADD each event to the run's stream, refresh its TTL (if one is the run's own),
        and publish `<run_id> <type>` once, naming the last: a follower reads the stream
        from where it was, so one wake-up serves events committed together."""
        if not events:
            return
        key = run_events_key(self._prefix, run_id)
        try:
            pipe = self._client.pipeline(transaction=False)
            for event_type, data in events:
                fields = {"type": event_type, "data": json.dumps(dict(data), default=str)}
                pipe.xadd(key, fields, maxlen=self._max_len, approximate=True)  # type: ignore[arg-type]
            if self._refreshes(run_id, [event_type for event_type, _ in events]):
                pipe.expire(key, self._ttl_s)
            last_type = events[-1][0]
            pipe.publish(run_events_channel(self._prefix), f"{run_id} {last_type}")
            pipe.execute()
        except (redis.RedisError, OSError) as exc:
            types = ", ".join(event_type for event_type, _ in events)
            log.warning("run %s: events %s not recorded: %s", run_id, types, exc)

    def _refreshes(self, run_id: str, event_types: list[str]) -> bool:
        """Whether these events refresh the stream's TTL. The run's own events keep its
        stream alive, a tool call's event always following one of them within the run's
        life; of those, a wait or the end always refreshes, any other only if this process
        has not refreshed the run's stream for a while (an EXPIRE per step was 5 of a run's
        60 Redis commands). A stream re-created in between (Redis lost its data) has no TTL
        until the run's next refresh, at the latest its end."""
        if not any(event_type.startswith("run.") for event_type in event_types):
            return False
        now = self._clock()
        if not ALWAYS_REFRESH.isdisjoint(event_types):
            self._remember(run_id, now)
            return True
        last = self._refreshed.get(run_id)
        if last is not None and now - last < self._refresh_every_s:
            return False
        self._remember(run_id, now)
        return True

    def _remember(self, run_id: str, now: float) -> None:
        if len(self._refreshed) >= REMEMBERED_RUNS:
            self._refreshed.clear()
        self._refreshed[run_id] = now
