"""Circuit breakers for tools, shared by every worker process through Redis.

`RedisToolBreakers` runs `breaker.lua`, the only code that changes breaker state, so
"admit one trial call" is atomic across the fleet. `InMemoryToolBreakers` has the same methods
over the pure model in `tool_breaker.py`, for unit tests of callers.

Callers ask `allow(tool, now_ms)` before a call and `record(tool, succeeded, now_ms)` after
it (a success admitted as ADMITTED_CLEAN need not be recorded). A refused call should become
an error output for the model, like any failing tool.
"""

from __future__ import annotations

import logging
import threading
from importlib.resources import files
from typing import Protocol

import redis

from workers import redis_keys
from workers.tools import breaker as tool_breaker
from workers.tools.breaker import Admission, BreakerPolicy, BreakerState

logger = logging.getLogger(__name__)

DEFAULT_POLICY = BreakerPolicy()

MIN_STATE_TTL_MS = 60_000
"""Floor on the hash's TTL, so a short cool-down still remembers a burst of failures."""
TTL_COOLDOWNS = 4
"""The hash lives this many cool-downs after its last write (always longer than one)."""

_STATE_FIELDS = ("consecutive_failures", "open_until_ms")
"""The fields of the state hash, as `breaker.lua` writes them."""


def state_ttl_ms(policy: BreakerPolicy) -> int:
    """How long a breaker's hash outlives its last write: 4 cool-downs, at least 60 s."""
    return max(MIN_STATE_TTL_MS, TTL_COOLDOWNS * policy.cooldown_ms)


class ToolBreakers(Protocol):
    """What callers need from breakers; `RedisToolBreakers` and `InMemoryToolBreakers` fit."""

    def allow(self, tool_name: str, now_ms: int) -> Admission: ...

    def record(self, tool_name: str, succeeded: bool, now_ms: int) -> None: ...

    def state(self, tool_name: str) -> BreakerState: ...


class RedisToolBreakers:
    """One breaker per tool in Redis; each `allow` or `record` is one atomic script run.

    Redis trouble never stops a tool: `allow` then says yes and `record` drops the outcome,
    each with a warning. The breaker protects a tool; it must not become the failure.
    """

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = redis_keys.DEFAULT_PREFIX,
        policy: BreakerPolicy = DEFAULT_POLICY,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._policy = policy
        source = files("workers.tools").joinpath("breaker.lua").read_text(encoding="utf-8")
        self._script = client.register_script(source)

    def allow(self, tool_name: str, now_ms: int) -> Admission:
        """May a call to `tool_name` go ahead now? In half-open, a yes claims the one trial.

        ADMITTED when Redis cannot be reached (fail open, logged).
        """
        try:
            return Admission(self._run(tool_name, "allow", now_ms))
        except redis.RedisError as exc:
            # Failing closed would turn a Redis outage into an outage of every tool.
            logger.warning("tool breaker unavailable, allowing tool=%s: %r", tool_name, exc)
            return Admission.ADMITTED

    def record(self, tool_name: str, succeeded: bool, now_ms: int) -> None:
        """Count a call's outcome: a success closes the breaker, failures may open it.

        Does nothing when Redis cannot be reached (logged): the tool's own result matters
        more than the breaker's bookkeeping.
        """
        try:
            self._run(tool_name, "success" if succeeded else "failure", now_ms)
        except redis.RedisError as exc:
            logger.warning(
                "tool breaker unavailable, outcome dropped tool=%s succeeded=%s: %r",
                tool_name,
                succeeded,
                exc,
            )

    def state(self, tool_name: str) -> BreakerState:
        """The stored state (closed when absent or expired); raises on Redis errors."""
        stored = self._client.hmget(self._redis_key(tool_name), list(_STATE_FIELDS))
        if any(value is None for value in stored):
            return tool_breaker.CLOSED
        failures, open_until_ms = (int(value) for value in stored if value is not None)
        return BreakerState(failures, open_until_ms)

    def _redis_key(self, tool_name: str) -> str:
        return redis_keys.breaker_key(self._prefix, tool_name)

    def _run(self, tool_name: str, op: str, now_ms: int) -> int:
        args: list[str | int] = [
            op,
            now_ms,
            self._policy.failure_threshold,
            self._policy.cooldown_ms,
            state_ttl_ms(self._policy),
        ]
        return int(self._script(keys=[self._redis_key(tool_name)], args=args))


class InMemoryToolBreakers:
    """The pure model behind the `RedisToolBreakers` interface, for one process's tests.

    Thread-safe. Expiry is not modelled: it only ever forgets state that means CLOSED anyway
    (see the TTL note in `breaker.lua`).
    """

    def __init__(self, policy: BreakerPolicy = DEFAULT_POLICY) -> None:
        self._policy = policy
        self._states: dict[str, BreakerState] = {}
        self._lock = threading.Lock()

    def allow(self, tool_name: str, now_ms: int) -> Admission:
        """May a call to `tool_name` go ahead now? In half-open, a yes claims the one trial."""
        with self._lock:
            admitted, self._states[tool_name] = tool_breaker.begin_call(
                self._load(tool_name), self._policy, now_ms
            )
        return admitted

    def record(self, tool_name: str, succeeded: bool, now_ms: int) -> None:
        """Count a call's outcome: a success closes the breaker, failures may open it."""
        with self._lock:
            state = self._load(tool_name)
            if succeeded:
                self._states[tool_name] = tool_breaker.record_success(state)
            else:
                self._states[tool_name] = tool_breaker.record_failure(state, self._policy, now_ms)

    def state(self, tool_name: str) -> BreakerState:
        """The current state (closed when never touched)."""
        with self._lock:
            return self._load(tool_name)

    def _load(self, tool_name: str) -> BreakerState:
        return self._states.get(tool_name, tool_breaker.CLOSED)
