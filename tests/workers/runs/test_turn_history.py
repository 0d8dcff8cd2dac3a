"""Recent turn durations in Redis (fakeredis): capped, newest first, failures harmless."""

from __future__ import annotations

import fakeredis
import redis

from workers.redis_keys import turn_times_key
from workers.runs.turn_history import RedisTurnTimes


def test_keeps_the_newest_durations_per_model() -> None:
    times = RedisTurnTimes(fakeredis.FakeRedis(), prefix="t", keep=3)
    for duration_s in (1.0, 2.0, 3.0, 4.0):
        times.record("gpt-a", duration_s)
    times.record("gpt-b", 9.0)
    assert times.recent("gpt-a") == (4.0, 3.0, 2.0)
    assert times.recent("gpt-b") == (9.0,)
    assert times.recent("gpt-c") == ()


def test_the_list_is_trimmed_once_it_holds_twice_what_is_kept() -> None:
    client = fakeredis.FakeRedis()
    now = [100.0]
    times = RedisTurnTimes(client, prefix="t", keep=3, clock=lambda: now[0])
    for duration_s in range(1, 8):
        times.record("gpt-a", float(duration_s))
        now[0] += 1.0
    assert client.llen(turn_times_key("t", "gpt-a")) == 3  # 7 > 6: trimmed back to 3
    times.record("gpt-a", 8.0)
    assert client.llen(turn_times_key("t", "gpt-a")) == 4


class CountingRedis(fakeredis.FakeRedis):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pushes = 0

    def lpush(self, *args, **kwargs):
        self.pushes += 1
        return super().lpush(*args, **kwargs)


def test_the_turns_of_a_second_go_to_redis_in_one_push() -> None:
    # Given a process that records turns faster than once a second
    client = CountingRedis()
    now = [100.0]
    mine = RedisTurnTimes(client, prefix="t", clock=lambda: now[0])
    other = RedisTurnTimes(client, prefix="t", clock=lambda: now[0])
    mine.record("gpt-a", 1.0)
    for duration_s in (2.0, 3.0, 4.0):
        now[0] += 0.2
        mine.record("gpt-a", duration_s)
    # Then the first went out at once, the rest wait for the second to be up
    assert client.pushes == 1
    assert other.recent("gpt-a") == (1.0,)
    now[0] += 0.5
    mine.record("gpt-a", 5.0)
    # When a second has passed: the four held go in one push, newest at the head
    assert client.pushes == 2
    now[0] += 1.0
    assert other.recent("gpt-a") == (5.0, 4.0, 3.0, 2.0, 1.0)


def test_a_reread_sends_the_turns_held_first() -> None:
    client = CountingRedis()
    now = [100.0]
    mine = RedisTurnTimes(client, prefix="t", clock=lambda: now[0])
    mine.record("gpt-a", 1.0)
    now[0] += 0.1
    mine.record("gpt-a", 2.0)
    # the list read back is Redis's, and it holds what this process recorded
    assert mine.recent("gpt-a") == (2.0, 1.0)
    assert client.pushes == 2


class BrokenRedis(fakeredis.FakeRedis):
    def lrange(self, *args, **kwargs):
        raise redis.ConnectionError("down")

    def lpush(self, *args, **kwargs):
        raise redis.ConnectionError("down")


def test_a_redis_failure_costs_only_the_plan() -> None:
    times = RedisTurnTimes(BrokenRedis(), prefix="t")
    times.record("gpt-a", 1.0)
    assert times.recent("gpt-a") == ()


def test_a_process_rereads_the_history_at_most_once_a_second() -> None:
    client = fakeredis.FakeRedis()
    now = [100.0]
    mine = RedisTurnTimes(client, prefix="t", clock=lambda: now[0])
    other_now = [500.0]
    other = RedisTurnTimes(client, prefix="t", clock=lambda: other_now[0])
    other.record("gpt-a", 2.0)
    assert mine.recent("gpt-a") == (2.0,)
    # another worker's turn is seen at the next read after it pushed it (a second after its
    # last push); this process's own at once
    other_now[0] += 1.0
    other.record("gpt-a", 3.0)
    mine.record("gpt-a", 4.0)
    assert mine.recent("gpt-a") == (4.0, 2.0)
    now[0] += 1.0
    assert mine.recent("gpt-a") == (4.0, 3.0, 2.0)
