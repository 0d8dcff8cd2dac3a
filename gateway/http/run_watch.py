"""One Redis subscription per API process that wakes the coroutines waiting on runs.

However many clients long-poll or stream, the process holds one pub/sub connection; an
event for run X wakes only X's waiters, and each waiter re-reads the run from the
database (the truth) once per wake. If the subscription drops, every waiter is woken so
none misses an end while it reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from workers.public.records import TERMINAL_EVENT_TYPES

WAIT_EVENT_TYPES = frozenset({"run.requires_action", "run.requires_approval"})

log = logging.getLogger("runq.http.watch")

RECONNECT_S = 1.0


@dataclass(eq=False)
class Waiter:
    """One client's wake-up flag; `terminal_only` waiters ignore progress events."""

    terminal_only: bool
    woken: asyncio.Event = field(default_factory=asyncio.Event)


class RunWatch:
    """Waiters by run id, woken by `<run_id> <event type>` messages on one channel."""

    def __init__(self, client: aioredis.Redis | None, channel: str) -> None:
        self._client = client
        self._channel = channel
        self._waiters: dict[str, set[Waiter]] = {}
        self._task: asyncio.Task[None] | None = None
        self.subscriptions = 0
        """How many times this process subscribed (1 unless the connection dropped)."""
        self.wakes = 0

    @property
    def is_live(self) -> bool:
        """False without Redis: waiters then wake only at their timeout."""
        return self._client is not None

    def start(self) -> None:
        """Begin listening (call from the running event loop)."""
        if self._client is not None and self._task is None:
            self._task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()

    @contextlib.asynccontextmanager
    async def watching(self, run_id: str, *, terminal_only: bool) -> AsyncIterator[Waiter]:
        """Register a waiter for `run_id` for the duration of the block."""
        waiter = Waiter(terminal_only)
        self._waiters.setdefault(run_id, set()).add(waiter)
        try:
            yield waiter
        finally:
            waiters = self._waiters.get(run_id, set())
            waiters.discard(waiter)
            if not waiters:
                self._waiters.pop(run_id, None)

    def waiting(self) -> int:
        """How many waiters are registered now."""
        return sum(len(w) for w in self._waiters.values())

    def deliver(self, message: str) -> None:
        """Wake the waiters a `<run_id> <event type>` message concerns."""
        run_id, _, event_type = message.partition(" ")
        # A run that waits for an approval or the caller's outputs will not move until
        # someone acts: `/wait` answers then too, so a caller with tools to run is not held.
        is_end = event_type in TERMINAL_EVENT_TYPES or event_type in WAIT_EVENT_TYPES
        for waiter in self._waiters.get(run_id, ()):
            if is_end or not waiter.terminal_only:
                waiter.woken.set()
                self.wakes += 1

    def _wake_everyone(self) -> None:
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.woken.set()

    async def _listen(self) -> None:
        assert self._client is not None
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self.subscriptions += 1
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self.deliver(message["data"].decode())
            except (RedisError, OSError) as exc:
                log.warning("run events subscription lost, reconnecting: %s", exc)
            self._wake_everyone()
            await asyncio.sleep(RECONNECT_S)
