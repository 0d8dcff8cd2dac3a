"""Recent turn durations in Redis (fakeredis): capped, newest first, failures harmless."""

from __future__ import annotations

import fakeredis
import redis

from workers.runs.turn_history import RedisTurnTimes


def test_keeps_the_newest_durations_per_model() -> None:
    times = RedisTurnTimes(fakeredis.FakeRedis(), prefix="t", keep=3)
    for duration_s in (1.0, 2.0, 3.0, 4.0):
        times.record("gpt-a", duration_s)
    times.record("gpt-b", 9.0)
    assert times.recent("gpt-a") == (4.0, 3.0, 2.0)
    assert times.recent("gpt-b") == (9.0,)
    assert times.recent("gpt-c") == ()


class BrokenRedis(fakeredis.FakeRedis):
    def lrange(self, *args, **kwargs):
        raise redis.ConnectionError("down")

    def pipeline(self, *args, **kwargs):
        raise redis.ConnectionError("down")


def test_a_redis_failure_costs_only_the_plan() -> None:
    times = RedisTurnTimes(BrokenRedis(), prefix="t")
    times.record("gpt-a", 1.0)
    assert times.recent("gpt-a") == ()
