"""`spend.lua` through `RedisSpend`, on fakeredis (Lua via lupa) and on a real redis-server:
all-or-nothing holds, idempotent settles, holds that expire."""

import redis

from workers.limits.spend import Scope
from workers.limits.spend_store import RedisSpend

RUN = Scope("run:r1", 0, 3600, "run")
KEY = Scope("key:k1", 100_000, 0, "key")
DAY = Scope("key:k1:day:2026-12-06", 60_000, 3600, "key/day")
SCOPES = (RUN, KEY, DAY)
NOW = 1_000_000
LATER = NOW + 60_000


def totals(store: RedisSpend) -> dict[str, tuple[int, int]]:
    return {t.scope: (t.spent_micros, t.held_micros) for t in store.read("")}


def test_a_hold_that_fits_every_limit_is_held_on_every_counter(redis_client: redis.Redis) -> None:
    store = RedisSpend(redis_client, prefix="t")
    assert store.hold("h1", SCOPES, 40_000, now_ms=NOW, expires_ms=LATER) is None
    assert totals(store) == {s.name: (0, 40_000) for s in SCOPES}


def test_a_hold_over_one_limit_holds_nothing_anywhere_and_names_that_limit(
    redis_client: redis.Redis,
) -> None:
    store = RedisSpend(redis_client, prefix="t")
    store.hold("h1", SCOPES, 40_000, now_ms=NOW, expires_ms=LATER)
    refused = store.hold("h2", SCOPES, 30_000, now_ms=NOW, expires_ms=LATER)
    assert refused is not None
    assert (refused.scope, refused.spent_micros, refused.held_micros) == (DAY, 0, 40_000)
    assert totals(store) == {s.name: (0, 40_000) for s in SCOPES}


def test_holding_the_same_turn_again_holds_once(redis_client: redis.Redis) -> None:
    store = RedisSpend(redis_client, prefix="t")
    for _ in range(3):  # a retried request, a step re-sent by the sweep
        assert store.hold("h1", SCOPES, 40_000, now_ms=NOW, expires_ms=LATER) is None
    assert totals(store)[KEY.name] == (0, 40_000)


def test_a_settle_swaps_the_hold_for_the_cost_and_a_second_settle_charges_nothing(
    redis_client: redis.Redis,
) -> None:
    store = RedisSpend(redis_client, prefix="t")
    store.hold("h1", SCOPES, 40_000, now_ms=NOW, expires_ms=LATER)
    assert store.settle("h1", SCOPES, 7_000, now_ms=NOW + 5) is True
    assert store.settle("h1", SCOPES, 7_000, now_ms=NOW + 6) is False
    assert totals(store) == {s.name: (7_000, 0) for s in SCOPES}
    # the freed room is usable again: 7,000 spent + 50,000 fits the day's 60,000
    assert store.hold("h2", SCOPES, 50_000, now_ms=NOW + 7, expires_ms=LATER) is None


def test_an_unknown_cost_charges_the_worst_case_held(redis_client: redis.Redis) -> None:
    store = RedisSpend(redis_client, prefix="t")
    store.hold("h1", SCOPES, 40_000, now_ms=NOW, expires_ms=LATER)
    store.settle("h1", SCOPES, None, now_ms=NOW + 5)
    assert totals(store)[DAY.name] == (40_000, 0)


def test_a_hold_never_settled_expires_and_frees_its_room(redis_client: redis.Redis) -> None:
    # Given a worker killed between hold and settle: its hold is never settled
    store = RedisSpend(redis_client, prefix="t")
    store.hold("killed", SCOPES, 55_000, now_ms=NOW, expires_ms=LATER)
    assert store.hold("h2", SCOPES, 10_000, now_ms=NOW + 1, expires_ms=LATER) is not None
    # When its expiry has passed, the next hold finds the room free again
    assert store.hold("h2", SCOPES, 10_000, now_ms=LATER + 1, expires_ms=LATER + 60_000) is None
    assert totals(store)[DAY.name] == (0, 10_000)


def test_a_settle_after_its_hold_expired_still_charges_once(redis_client: redis.Redis) -> None:
    store = RedisSpend(redis_client, prefix="t")
    store.hold("h1", SCOPES, 40_000, now_ms=NOW, expires_ms=LATER)
    assert store.settle("h1", SCOPES, 9_000, now_ms=LATER + 1) is True
    assert store.settle("h1", SCOPES, 9_000, now_ms=LATER + 2) is False
    assert totals(store)[DAY.name] == (9_000, 0)


def test_a_count_only_counter_never_refuses(redis_client: redis.Redis) -> None:
    store = RedisSpend(redis_client, prefix="t")
    count_only = (Scope("agent:a:day:2026-12-06", 0, 3600, "agent/day"),)
    assert store.hold("h1", count_only, 10**12, now_ms=NOW, expires_ms=LATER) is None


def test_counters_read_by_prefix_show_only_that_prefix(redis_client: redis.Redis) -> None:
    store = RedisSpend(redis_client, prefix="t")
    store.hold("h1", SCOPES, 1_000, now_ms=NOW, expires_ms=LATER)
    assert [t.scope for t in store.read("key:k1")] == [KEY.name, DAY.name]
    assert store.held_at_ms("h1") == NOW and store.held_at_ms("nope") is None
