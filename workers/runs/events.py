"""Run events: every transition the store commits is also told to Redis, best effort.

Each run has a capped stream (`XADD … MAXLEN ~`) that expires, so a client can replay what
it missed by event id, and one shared pub/sub channel names the run that moved, so API
processes wake only the clients waiting on it. The database stays the truth: a lost event
costs a client a wake-up (it re-reads the run at its timeout), never a run step.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol

import redis

from workers.redis_keys import run_events_channel, run_events_key

log = logging.getLogger("runq.events")


class RunEventSink(Protocol):
    """Where the store tells what it committed (the seam: Redis, or nothing in unit tests)."""

    def append(self, run_id: str, event_type: str, data: Mapping[str, Any]) -> None:
        """Record one event; never raises."""
        ...


class RedisRunEvents:
    """Run events on Redis streams, with a short timeout: a slow Redis costs an event."""

    def __init__(self, client: redis.Redis, *, prefix: str, ttl_s: int, max_len: int) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl_s = ttl_s
        self._max_len = max_len

    def append(self, run_id: str, event_type: str, data: Mapping[str, Any]) -> None:
        """XADD to the run's stream, refresh its TTL (run events), and publish `<run_id> <type>`."""
        key = run_events_key(self._prefix, run_id)
        fields = {"type": event_type, "data": json.dumps(dict(data), default=str)}
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.xadd(key, fields, maxlen=self._max_len, approximate=True)  # type: ignore[arg-type]
            if event_type.startswith("run."):
                # The run's own events keep its stream alive; a tool call's event always
                # follows one of them within the run's life, so it need not refresh the TTL.
                pipe.expire(key, self._ttl_s)
            pipe.publish(run_events_channel(self._prefix), f"{run_id} {event_type}")
            pipe.execute()
        except (redis.RedisError, OSError) as exc:
            log.warning("run %s: event %s not recorded: %s", run_id, event_type, exc)
