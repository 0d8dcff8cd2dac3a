"""KeyWatch: one query re-checks the keys of every open stream; revoked ones are cut."""

from __future__ import annotations

import asyncio

from gateway.http.key_watch import KeyWatch


def test_only_the_holders_of_a_revoked_key_are_woken_in_one_query():
    queries: list[set[str]] = []
    live = {"key_a", "key_b"}

    def live_keys(ids: set[str]) -> set[str]:
        queries.append(set(ids))
        return ids & live

    async def scenario() -> None:
        watch = KeyWatch(live_keys, check_s=60)
        a1, a2, b = asyncio.Event(), asyncio.Event(), asyncio.Event()
        async with (
            watch.holding("key_a", a1) as hold_a1,
            watch.holding("key_a", a2) as hold_a2,
            watch.holding("key_b", b) as hold_b,
        ):
            assert await watch.check_once() == 0
            live.discard("key_a")  # the key is revoked
            assert await watch.check_once() == 2
            assert (a1.is_set(), a2.is_set(), b.is_set()) == (True, True, False)
            assert (hold_a1.revoked, hold_a2.revoked, hold_b.revoked) == (True, True, False)
        assert await watch.check_once() == 0  # nothing held: no query at all

    asyncio.run(scenario())
    assert queries == [{"key_a", "key_b"}, {"key_a", "key_b"}]


def test_a_failed_check_cuts_nobody():
    def broken(ids: set[str]) -> set[str]:
        raise OSError("database unreachable")

    async def scenario() -> None:
        watch = KeyWatch(broken, check_s=60)
        wake = asyncio.Event()
        async with watch.holding("key_a", wake) as hold:
            assert await watch.check_once() == 0
            assert not wake.is_set() and not hold.revoked

    asyncio.run(scenario())


def test_the_loop_checks_every_check_s_until_stopped():
    calls: list[set[str]] = []

    async def scenario() -> None:
        watch = KeyWatch(lambda ids: calls.append(ids) or set(), check_s=0.01)
        wake = asyncio.Event()
        async with watch.holding("key_a", wake):
            watch.start()
            await asyncio.wait_for(wake.wait(), 5)
            await watch.stop()

    asyncio.run(scenario())
    assert calls and calls[0] == {"key_a"}
