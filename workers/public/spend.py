"""Dollar spend as the front door shows it: per key (a key sees only its own counters), per
agent and day, with the limits that apply. Read from the shared Redis counters."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from config.settings import get_settings
from workers.agents import find_agent
from workers.db.key_store import list_keys
from workers.db.models import ApiKey
from workers.limits.spend import micros_to_usd
from workers.limits.spend_store import RedisSpend, Totals
from workers.wiring import get_redis


@dataclass(frozen=True, slots=True)
class SpendLine:
    """One counter: what was spent, what turns in flight hold, and its limit (None: none)."""

    scope: str
    spent_usd: float
    held_usd: float
    limit_usd: float | None


def _store() -> RedisSpend:
    return RedisSpend(get_redis(), prefix=get_settings().redis.prefix)


def key_spend(session: Session, key_id: str) -> list[SpendLine]:
    """The key's counters: in all, per day, per month (only its own, never another key's)."""
    key = session.get(ApiKey, key_id)
    if key is None:
        return []
    own = f"key:{key.id}"
    found = [t for t in _store().read(own) if t.scope == own or t.scope.startswith(own + ":")]
    return [_line(t, _key_limit(key, t.scope)) for t in found]


def fleet_spend(session: Session) -> list[SpendLine]:
    """Every key's and every agent's counters (the operator's view; runs are not listed)."""
    store = _store()
    keys = {row.id: row for row in list_keys(session)}
    lines: list[SpendLine] = []
    for totals in store.read("key:"):
        key_id = totals.scope.split(":")[1]
        key = keys.get(key_id)
        lines.append(_line(totals, None if key is None else _key_limit(key, totals.scope)))
    for totals in store.read("agent:"):
        agent = find_agent(totals.scope.split(":")[1])
        lines.append(_line(totals, None if agent is None else agent.max_usd_per_day))
    return lines


def _key_limit(key: ApiKey, scope: str) -> float | None:
    if ":day:" in scope:
        return key.max_usd_day
    if ":month:" in scope:
        return key.max_usd_month
    return key.max_usd


def _line(totals: Totals, limit_usd: float | None) -> SpendLine:
    return SpendLine(
        totals.scope,
        micros_to_usd(totals.spent_micros),
        micros_to_usd(totals.held_micros),
        limit_usd,
    )
