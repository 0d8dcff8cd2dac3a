"""Throttled callers take a place in line: the pure rule, and its Lua twin on Redis."""

from __future__ import annotations

from collections.abc import Iterator

import fakeredis
import pytest
import redis

from workers.limits.clearance import LimitTable, SharedBudget
from workers.limits.limiter import InMemoryRateLimiter, LimitKey, RateLimiter, RedisRateLimiter
from workers.limits.queue_slot import next_slot_ms, spacing_ms
from workers.limits.token_bucket import Limits


@pytest.mark.parametrize(
    ("limits", "tokens", "expected_ms"),
    [
        pytest.param(Limits(300, 0), 500, 200, id="requests-bind"),
        pytest.param(Limits(0, 60_000), 500, 500, id="tokens-bind"),
        pytest.param(Limits(300, 60_000), 100, 200, id="the-slower-refill-wins"),
        pytest.param(Limits(0, 0), 100, 0, id="no-limits"),
    ],
)
def test_spacing_is_the_refill_of_one_request(limits: Limits, tokens: int, expected_ms: int):
    assert spacing_ms(limits, tokens) == expected_ms


@pytest.mark.parametrize(
    ("last", "now", "wait", "spacing", "expected"),
    [
        pytest.param(None, 1000, 200, 200, 1200, id="first-in-line-waits-its-own-wait"),
        pytest.param(1200, 1000, 200, 200, 1400, id="next-goes-after-the-last"),
        pytest.param(500, 1000, 200, 200, 1200, id="an-old-slot-does-not-hold-anyone"),
        pytest.param(1200, 1000, 900, 200, 1900, id="a-longer-own-wait-wins"),
        pytest.param(None, 1000, -5, 200, 1000, id="never-before-now"),
    ],
)
def test_next_slot(last: int | None, now: int, wait: int, spacing: int, expected: int):
    assert next_slot_ms(last, now, wait, spacing) == expected


@pytest.fixture(params=["model", "fakeredis", "redis"])
def limiter(request: pytest.FixtureRequest) -> Iterator[RateLimiter]:
    if request.param == "model":
        yield InMemoryRateLimiter()
    elif request.param == "fakeredis":
        client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        yield RedisRateLimiter(client, prefix="test")
        client.close()
    else:
        client: redis.Redis = request.getfixturevalue("real_redis")
        yield RedisRateLimiter(client, prefix=f"test-queue-{id(request)}")


def test_the_line_is_the_same_on_every_limiter(limiter: RateLimiter):
    key, other = LimitKey("k", "m"), LimitKey("k", "other")
    waits = [limiter.queue(key, 1000 + step, 200, 200) for step in range(4)]
    assert waits == [200, 399, 598, 797]  # one slot every 200 ms, whenever they asked
    assert limiter.queue(other, 1000, 200, 200) == 200  # another model has its own line
    assert limiter.queue(key, 100_000, 50, 200) == 50  # a line long gone holds nobody


def test_throttled_callers_wake_one_refill_apart_not_together():
    class Clock:
        now_ms = 1_000_000

        def __call__(self) -> int:
            return self.now_ms

    table = LimitTable(default=Limits(0, 0), per_model={"m": Limits(300, 0)})
    shared = SharedBudget(InMemoryRateLimiter(), table, Clock(), lambda: 0.0, lambda: 0)
    assert all(shared.wait_s(model="m", api_key_id="k", tokens=1) == 0 for _ in range(300))
    waits = [shared.wait_s(model="m", api_key_id="k", tokens=1) for _ in range(5)]
    assert waits == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
