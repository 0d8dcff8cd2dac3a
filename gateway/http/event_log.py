"""Reading a run's event stream (written by `workers.runs.events`) from the API process."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from workers.public.runtime import run_events_key

log = logging.getLogger("runq.http.events")

_STREAM_ID = re.compile(r"^\d+-\d+$")
PAGE = 500


class EventLog:
    """`read_after(run_id, event_id)`: the events a client has not seen yet."""

    def __init__(self, client: aioredis.Redis | None, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    async def read_after(self, run_id: str, after_id: str) -> list[tuple[str, str, Any]]:
        """(id, type, data) of the events after `after_id`, oldest first; [] without Redis.

        An id that is not a stream id (a client's own, or "end") replays from the start."""
        if self._client is None:
            return []
        start = f"({after_id}" if _STREAM_ID.match(after_id) else "-"
        try:
            entries = await self._client.xrange(
                run_events_key(self._prefix, run_id), min=start, count=PAGE
            )
        except (RedisError, OSError) as exc:
            log.warning("run %s: events unreadable: %s", run_id, exc)
            return []
        return [_decode(entry_id, fields) for entry_id, fields in entries or ()]


def _decode(entry_id: Any, fields: Any) -> tuple[str, str, Any]:
    # redis-py types stream replies loosely; the client is built without decode_responses.
    return entry_id.decode(), fields[b"type"].decode(), json.loads(fields[b"data"])
