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


def test_a_process_rereads_the_history_at_most_once_a_second() -> None:
    client = fakeredis.FakeRedis()
    now = [100.0]
    mine = RedisTurnTimes(client, prefix="t", clock=lambda: now[0])
    other = RedisTurnTimes(client, prefix="t")
    other.record("gpt-a", 2.0)
    assert mine.recent("gpt-a") == (2.0,)
    # another worker's turn is seen at the next read; this process's own at once
    other.record("gpt-a", 3.0)
    mine.record("gpt-a", 4.0)
    assert mine.recent("gpt-a") == (4.0, 2.0)
    now[0] += 1.0
    assert mine.recent("gpt-a") == (4.0, 3.0, 2.0)
