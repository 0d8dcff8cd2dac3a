"""Cutting a revoked key's open event streams and long-polls, within `check_s`.

A key is checked when a request arrives; a stream or `/wait` may then stay open for minutes.
So each API process keeps the keys of its open streams and waits, re-checks all of them in
one query every `check_s` (not one per client), and wakes the holders of a key that was
revoked: their endpoint ends the stream, or answers 401.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

log = logging.getLogger("runq.http.keys")

LiveKeys = Callable[[set[str]], set[str]]
"""Which of these key ids are still live (blocking: the database)."""


@dataclass(eq=False)
class KeyHold:
    """One open stream or wait on a key; `wake` is set (and `revoked` true) on revocation."""

    key_id: str
    wake: asyncio.Event
    revoked: bool = False


@dataclass
class KeyWatch:
    """Holds by key id, re-checked together every `check_s`."""

    live_keys: LiveKeys
    check_s: float
    _holds: dict[str, set[KeyHold]] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin checking (call from the running event loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._check_forever())

    async def stop(self) -> None:
        """Stop checking."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @contextlib.asynccontextmanager
    async def holding(self, key_id: str, wake: asyncio.Event) -> AsyncIterator[KeyHold]:
        """Watch `key_id` for the duration of the block; revocation sets `wake`."""
        hold = KeyHold(key_id, wake)
        self._holds.setdefault(key_id, set()).add(hold)
        try:
            yield hold
        finally:
            holds = self._holds.get(key_id, set())
            holds.discard(hold)
            if not holds:
                self._holds.pop(key_id, None)

    def holds(self, key_id: str) -> int:
        """How many open streams and waits hold `key_id` now."""
        return len(self._holds.get(key_id, ()))

    async def check_once(self) -> int:
        """Re-check every held key; wakes the holders of revoked ones. Returns how many
        holds were cut."""
        if not self._holds:
            return 0
        held = set(self._holds)
        try:
            live = await run_in_threadpool(self.live_keys, held)
        except Exception as exc:  # a database hiccup must not cut anyone, nor stop the loop
            log.warning("API keys of open streams not re-checked: %r", exc)
            return 0
        cut = 0
        for key_id in held - live:
            for hold in self._holds.get(key_id, ()):
                hold.revoked = True
                hold.wake.set()
                cut += 1
        if cut:
            log.info("cut %d open stream(s) or wait(s) of revoked API keys", cut)
        return cut

    async def _check_forever(self) -> None:
        while True:
            await asyncio.sleep(self.check_s)
            await self.check_once()
