"""Run events on a real Redis: capped, expiring streams plus one notification channel;
a Redis that is down costs the event, never the run step."""

from __future__ import annotations

import json

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.ports import free_port
from workers.db.statuses import event_type_for_status
from workers.redis_keys import run_events_channel, run_events_key
from workers.runs.events import RedisRunEvents


def test_events_are_appended_capped_expiring_and_announced(real_redis):
    pubsub = real_redis.pubsub()
    pubsub.subscribe(run_events_channel("t"))
    pubsub.get_message(timeout=1)  # the subscribe confirmation
    events = RedisRunEvents(real_redis, prefix="t", ttl_s=60, max_len=5)

    for index in range(250):
        events.append("run_1", "run.status", {"n": index})

    key = run_events_key("t", "run_1")
    entries = real_redis.xrange(key)
    assert 5 <= len(entries) < 250  # MAXLEN ~ trims whole nodes (of 100 entries)
    assert json.loads(entries[-1][1][b"data"]) == {"n": 249}
    assert 0 < real_redis.ttl(key) <= 60
    assert pubsub.get_message(timeout=1)["data"] == b"run_1 run.status"
    pubsub.close()


def test_tool_call_events_leave_the_streams_ttl_to_the_runs_own_events(real_redis):
    events = RedisRunEvents(real_redis, prefix="t", ttl_s=60, max_len=5)
    key = run_events_key("t", "run_2")
    events.append("run_2", "run.status", {})
    real_redis.expire(key, 30)
    events.append("run_2", "tool_call.finished", {})
    assert 0 < real_redis.ttl(key) <= 30
    events.append("run_2", "run.completed", {})
    assert real_redis.ttl(key) > 30


def test_a_redis_that_is_down_costs_the_event_not_the_step():
    # Configured as the workers' own event client is (no retries): see wiring.get_run_events.
    dead = redis.Redis(port=free_port(), socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    RedisRunEvents(dead, prefix="t", ttl_s=60, max_len=5).append("run_1", "run.status", {})


def test_terminal_statuses_have_their_own_event_type():
    assert event_type_for_status("completed") == "run.completed"
    assert event_type_for_status("expired") == "run.expired"
    assert event_type_for_status("in_progress") == "run.status"


def test_events_committed_together_are_told_in_one_wake_up(real_redis):
    pubsub = real_redis.pubsub()
    pubsub.subscribe(run_events_channel("t"))
    pubsub.get_message(timeout=1)  # the subscribe confirmation
    events = RedisRunEvents(real_redis, prefix="t", ttl_s=60, max_len=50)

    events.append_all(
        "run_3",
        [
            ("run.status", {"status": "requires_action"}),
            ("tool_calls.requested", {"calls": []}),
            ("run.requires_action", {"calls": []}),
        ],
    )

    key = run_events_key("t", "run_3")
    types = [fields[b"type"] for _, fields in real_redis.xrange(key)]
    assert types == [b"run.status", b"tool_calls.requested", b"run.requires_action"]
    assert 0 < real_redis.ttl(key) <= 60
    # one message, naming the last event: a `/wait` caller wakes for the run that waits
    assert pubsub.get_message(timeout=1)["data"] == b"run_3 run.requires_action"
    assert pubsub.get_message(timeout=0.2) is None
    pubsub.close()


def test_a_process_refreshes_a_runs_ttl_now_and_then_and_always_at_a_wait_or_the_end(
    real_redis,
):
    now = [0.0]
    events = RedisRunEvents(real_redis, prefix="t", ttl_s=3600, max_len=50, clock=lambda: now[0])
    key = run_events_key("t", "run_4")

    def ttl_after(event_type: str) -> int:
        real_redis.expire(key, 30)  # marks whether the event refreshed the TTL
        events.append("run_4", event_type, {})
        return real_redis.ttl(key)

    events.append("run_4", "run.status", {})
    assert real_redis.ttl(key) > 30  # the first run event of this process refreshes
    assert ttl_after("run.status") <= 30  # the next ones, moments later, do not
    assert ttl_after("run.requires_action") > 30  # a wait always does
    now[0] += 599.0
    assert ttl_after("run.status") <= 30
    now[0] += 1.0  # 10 minutes (at most half the TTL) after the last refresh
    assert ttl_after("run.status") > 30
    # another process (its own sink) refreshes at its first run event
    other = RedisRunEvents(real_redis, prefix="t", ttl_s=3600, max_len=50)
    real_redis.expire(key, 30)
    other.append("run_4", "run.status", {})
    assert real_redis.ttl(key) > 30
    assert ttl_after("run.completed") > 30  # and the end always does
