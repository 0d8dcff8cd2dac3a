"""Run events: every transition the store commits is also told to Redis, best effort.

Each run has a capped stream (`XADD … MAXLEN ~`) that expires, so a client can replay what
it missed by event id, and one shared pub/sub channel names the run that moved, so API
processes wake only the clients waiting on it. The database stays the truth: a lost event
costs a client a wake-up (it re-reads the run at its timeout), never a run step.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import redis

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


class RedisRunEvents:
    """Run events on Redis streams, with a short timeout: a slow Redis costs an event."""

    def __init__(self, client: redis.Redis, *, prefix: str, ttl_s: int, max_len: int) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl_s = ttl_s
        self._max_len = max_len

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
            if any(event_type.startswith("run.") for event_type, _ in events):
                # The run's own events keep its stream alive; a tool call's event always
                # follows one of them within the run's life, so it need not refresh the TTL.
                pipe.expire(key, self._ttl_s)
            last_type = events[-1][0]
            pipe.publish(run_events_channel(self._prefix), f"{run_id} {last_type}")
            pipe.execute()
        except (redis.RedisError, OSError) as exc:
            types = ", ".join(event_type for event_type, _ in events)
            log.warning("run %s: events %s not recorded: %s", run_id, types, exc)
