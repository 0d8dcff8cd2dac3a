"""Dollar budgets in Redis: every worker holds and settles through `spend.lua`, one atomic
script run per call, so concurrent turns can never together pass a limit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files

import redis

from workers import redis_keys
from workers.limits.spend import Scope

SETTLED_KEEP_MS = 2 * 86_400_000
"""How long a settled hold is remembered: a duplicate settle within it charges nothing."""


@dataclass(frozen=True, slots=True)
class Refused:
    """A hold that did not fit: the scope that refused it and that scope's totals."""

    scope: Scope
    spent_micros: int
    held_micros: int


@dataclass(frozen=True, slots=True)
class Totals:
    """One counter as last written: spent and held (held may include holds that expired
    since the last call on the counter)."""

    scope: str
    spent_micros: int
    held_micros: int


class RedisSpend:
    """Hold, settle and read dollar-budget counters in Redis."""

    def __init__(self, client: redis.Redis, prefix: str = redis_keys.DEFAULT_PREFIX) -> None:
        self._client = client
        self._prefix = prefix
        source = files("workers.limits").joinpath("spend.lua").read_text(encoding="utf-8")
        self._script = client.register_script(source)

    def hold(
        self,
        hold_id: str,
        scopes: Sequence[Scope],
        amount_micros: int,
        *,
        now_ms: int,
        expires_ms: int,
    ) -> Refused | None:
        """Hold `amount_micros` on every scope, or on none; None when held (or when this
        hold id was held or settled before: a retried turn holds once)."""
        if amount_micros < 0:
            raise ValueError(f"a hold must be >= 0 micro-dollars, got {amount_micros}")
        answer = self._run("hold", hold_id, scopes, amount_micros, now_ms, expires_ms)
        index = int(answer[0])
        if index == 0:
            return None
        return Refused(scopes[index - 1], int(answer[1]), int(answer[2]))

    def settle(
        self, hold_id: str, scopes: Sequence[Scope], cost_micros: int | None, *, now_ms: int
    ) -> bool:
        """Release the hold and charge `cost_micros` (None: the held worst case) on every
        scope; False (and nothing charged) if this hold was settled before."""
        cost = -1 if cost_micros is None else cost_micros
        return int(self._run("settle", hold_id, scopes, cost, now_ms, 0)[0]) == 1

    def held_at_ms(self, hold_id: str) -> int | None:
        """When this hold was made (its day and month counters are that time's), or None."""
        raw = self._client.hget(redis_keys.spend_hold_key(self._prefix, hold_id), "at_ms")
        return None if raw is None else int(raw)

    def read(self, scope_prefix: str) -> list[Totals]:
        """Every counter whose scope starts with `scope_prefix` ("" for all), sorted."""
        pattern = redis_keys.spend_totals_key(self._prefix, scope_prefix) + "*"
        head = len(redis_keys.spend_totals_key(self._prefix, ""))
        found: list[Totals] = []
        for raw in self._client.scan_iter(match=pattern, count=500):
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            spent, held = self._client.hmget(key, ["spent", "held"])
            found.append(Totals(key[head:], int(spent or 0), max(0, int(held or 0))))
        return sorted(found, key=lambda totals: totals.scope)

    def _run(
        self,
        op: str,
        hold_id: str,
        scopes: Sequence[Scope],
        amount: int,
        now_ms: int,
        expires_ms: int,
    ) -> list[int]:
        keys = [redis_keys.spend_hold_key(self._prefix, hold_id)]
        args: list[str | int] = [op, now_ms, hold_id, amount, expires_ms, SETTLED_KEEP_MS]
        for scope in scopes:
            keys.append(redis_keys.spend_totals_key(self._prefix, scope.name))
            keys.append(redis_keys.spend_holds_key(self._prefix, scope.name))
            args += [scope.limit_micros, scope.ttl_s * 1000]
        return list(self._script(keys=keys, args=args))
