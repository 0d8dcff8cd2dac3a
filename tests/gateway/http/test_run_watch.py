"""The API process's run watch: one subscription, and only the right waiters woken."""

from __future__ import annotations

import asyncio
import contextlib

import redis.asyncio as aioredis

from gateway.http.run_watch import RunWatch


def test_a_progress_event_wakes_followers_and_an_end_wakes_everyone_on_that_run():
    async def scenario() -> tuple[bool, bool, bool, bool, int]:
        watch = RunWatch(None, "t:events")
        async with (
            watch.watching("run_1", terminal_only=True) as waiter,
            watch.watching("run_1", terminal_only=False) as follower,
            watch.watching("run_2", terminal_only=False) as other,
        ):
            watch.deliver("run_1 run.status")
            progress = (waiter.woken.is_set(), follower.woken.is_set())
            watch.deliver("run_1 run.completed")
            return (*progress, waiter.woken.is_set(), other.woken.is_set(), watch.waiting())

    assert asyncio.run(scenario()) == (False, True, True, False, 3)


def test_a_run_that_starts_waiting_for_action_wakes_its_waiters():
    async def scenario() -> tuple[bool, bool]:
        watch = RunWatch(None, "t:events")
        async with (
            watch.watching("run_1", terminal_only=True) as approval,
            watch.watching("run_2", terminal_only=True) as outputs,
        ):
            watch.deliver("run_1 run.requires_approval")
            watch.deliver("run_2 run.requires_action")
            return approval.woken.is_set(), outputs.woken.is_set()

    assert asyncio.run(scenario()) == (True, True)


def test_waiters_are_woken_through_one_real_subscription(redis_server, real_redis):
    async def scenario() -> tuple[bool, int, int]:
        watch = RunWatch(aioredis.Redis.from_url(redis_server.url), "t:events")
        watch.start()
        async with watch.watching("run_1", terminal_only=True) as waiter:
            for _ in range(100):  # until the subscription is up and hears it
                real_redis.publish("t:events", "run_1 run.failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.woken.wait(), 0.05)
                    break
        subscriptions = watch.subscriptions
        await watch.stop()
        return waiter.woken.is_set(), subscriptions, watch.waiting()

    assert asyncio.run(scenario()) == (True, 1, 0)
