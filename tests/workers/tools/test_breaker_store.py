"""One table of breaker stories, run on the in-memory model, fakeredis (Lua via lupa) and real
Redis: identical answers and identical stored states make `tool_breaker.py` a faithful model
of `breaker.lua`.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import fakeredis
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.ports import free_port
from workers import redis_keys
from workers.tools.breaker import CLOSED, Admission, BreakerPolicy, BreakerState
from workers.tools.breaker_store import (
    InMemoryToolBreakers,
    RedisToolBreakers,
    ToolBreakers,
    state_ttl_ms,
)

POLICY = BreakerPolicy(failure_threshold=3, cooldown_ms=1000)
TOOL = "web.search"
S = BreakerState


@dataclass(frozen=True)
class Allow:
    now_ms: int
    admitted: bool
    tool: str = TOOL


@dataclass(frozen=True)
class Record:
    now_ms: int
    succeeded: bool
    tool: str = TOOL


Op = Allow | Record


def fail(now_ms: int, tool: str = TOOL) -> Record:
    return Record(now_ms, succeeded=False, tool=tool)


def ok(now_ms: int, tool: str = TOOL) -> Record:
    return Record(now_ms, succeeded=True, tool=tool)


CASES: dict[str, tuple[list[Op], BreakerState]] = {
    "untouched-tool-is-closed": ([Allow(0, True)], CLOSED),
    "below-threshold-stays-closed": ([fail(0), fail(1), Allow(2, True)], S(2, 0)),
    "threshold-opens-for-cooldown": (
        [fail(0), fail(1), fail(2), Allow(2, False), Allow(1001, False)], S(3, 1002)
    ),
    "half-open-admits-exactly-one-trial": (
        [fail(0), fail(0), fail(0), Allow(1000, True), Allow(1000, False), Allow(1999, False)],
        S(3, 2000),
    ),
    "trial-success-closes": (
        [fail(0), fail(0), fail(0), Allow(1000, True), ok(1500), Allow(1500, True),
         Allow(1500, True)],
        CLOSED,
    ),
    "trial-failure-reopens-for-another-cooldown": (
        [fail(0), fail(0), fail(0), Allow(1000, True), fail(1200), Allow(1999, False),
         Allow(2000, True)],
        S(4, 3000),
    ),
    "lost-trial-lease-runs-out": (
        [fail(0), fail(0), fail(0), Allow(1000, True), Allow(2000, True)], S(3, 3000)
    ),
    "failures-while-open-do-not-extend": (
        [fail(0), fail(0), fail(0), fail(500), fail(999), Allow(999, False), Allow(1000, True)],
        S(5, 2000),
    ),
    "late-failure-after-cooldown-reopens": (
        [fail(0), fail(0), fail(0), fail(5000), Allow(5999, False), Allow(6000, True)],
        S(4, 7000),
    ),
    "success-resets-count": ([fail(0), fail(0), ok(0), fail(0), fail(0)], S(2, 0)),
    "late-success-closes-an-open-breaker": (
        [fail(0), fail(0), fail(0), ok(10), Allow(10, True)], CLOSED
    ),
    "tools-are-independent": (
        [fail(0, "other"), fail(0, "other"), fail(0, "other"), Allow(0, False, "other"),
         fail(0), Allow(0, True)],
        S(1, 0),
    ),
    "tool-names-with-colons": (
        [fail(0, "mcp:fs:read"), Allow(0, True, "mcp:fs"), Allow(0, True)], CLOSED
    ),
    "epoch-scale-clock-stays-exact": (
        [fail(1_700_000_000_001), fail(1_700_000_000_002), fail(1_700_000_000_003),
         Allow(1_700_000_001_002, False), Allow(1_700_000_001_003, True)],
        S(3, 1_700_000_002_003),
    ),
}  # fmt: skip


@pytest.fixture(params=["model", "fakeredis", "redis"])
def breakers(request: pytest.FixtureRequest) -> Iterator[ToolBreakers]:
    """The same interface over the pure model, fakeredis+Lua and a real redis-server."""
    if request.param == "model":
        yield InMemoryToolBreakers(POLICY)
    elif request.param == "fakeredis":
        client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        yield RedisToolBreakers(client, prefix="test", policy=POLICY)
        client.close()
    else:
        yield RedisToolBreakers(request.getfixturevalue("real_redis"), prefix="test", policy=POLICY)


def apply(breakers: ToolBreakers, op: Op) -> bool | None:
    """Run one op; returns the answer of an allow."""
    if isinstance(op, Allow):
        return bool(breakers.allow(op.tool, op.now_ms))
    breakers.record(op.tool, op.succeeded, op.now_ms)
    return None


@pytest.mark.parametrize(("ops", "final"), CASES.values(), ids=CASES.keys())
def test_breaker_table(breakers: ToolBreakers, ops: list[Op], final: BreakerState) -> None:
    answers = [apply(breakers, op) for op in ops]
    assert answers == [op.admitted if isinstance(op, Allow) else None for op in ops]
    assert breakers.state(TOOL) == final


def test_random_ops_match_the_model(redis_client: redis.Redis) -> None:
    # Given a seeded stream of allows and outcomes, the Lua script agrees with the model
    breakers = RedisToolBreakers(redis_client, prefix="test", policy=POLICY)
    model = InMemoryToolBreakers(POLICY)
    rng = random.Random(4321)
    now_ms = 1_700_000_000_000
    for _ in range(300):
        now_ms += rng.choice([0, 0, 1, 250, 999, 1000, 3000])
        kind = rng.choice(["allow", "allow", "fail", "fail", "fail", "ok"])
        op: Op = Allow(now_ms, True) if kind == "allow" else Record(now_ms, kind == "ok")
        if isinstance(op, Allow):
            # the exact admission, clean or not, agrees too
            assert breakers.allow(op.tool, op.now_ms) == model.allow(op.tool, op.now_ms), op
        else:
            apply(breakers, op)
            apply(model, op)
        assert breakers.state(TOOL) == model.state(TOOL), op


@pytest.mark.parametrize(
    ("policy", "ttl_ms"),
    [(POLICY, 60_000), (BreakerPolicy(), 120_000), (BreakerPolicy(cooldown_ms=15_000), 60_000),
     (BreakerPolicy(cooldown_ms=600_000), 2_400_000)],
)  # fmt: skip
def test_state_ttl_ms(policy: BreakerPolicy, ttl_ms: int) -> None:
    # 4 cool-downs, at least 60 s: always longer than an open period, which it must outlive
    assert state_ttl_ms(policy) == ttl_ms > policy.cooldown_ms


@pytest.mark.parametrize("policy", [POLICY, BreakerPolicy()])
def test_state_hash_has_a_ttl_and_success_deletes_it(
    redis_client: redis.Redis, policy: BreakerPolicy
) -> None:
    breakers = RedisToolBreakers(redis_client, prefix="test", policy=policy)
    name = redis_keys.breaker_key("test", TOOL)
    # When a failure is recorded, the hash expires after the policy's TTL
    breakers.record(TOOL, succeeded=False, now_ms=0)
    assert state_ttl_ms(policy) - 5_000 < redis_client.pttl(name) <= state_ttl_ms(policy)
    # When the tool then works, the hash is gone (missing means closed)
    breakers.record(TOOL, succeeded=True, now_ms=1)
    assert redis_client.exists(name) == 0
    # And a closed breaker's allow writes nothing
    assert breakers.allow(TOOL, now_ms=2)
    assert redis_client.exists(name) == 0


def test_prefixes_do_not_share_breakers(redis_client: redis.Redis) -> None:
    first = RedisToolBreakers(redis_client, prefix="a", policy=BreakerPolicy(1, 1000))
    second = RedisToolBreakers(redis_client, prefix="b", policy=BreakerPolicy(1, 1000))
    first.record(TOOL, succeeded=False, now_ms=0)
    assert not first.allow(TOOL, now_ms=0)
    assert second.allow(TOOL, now_ms=0)


def test_breaker_key() -> None:
    assert redis_keys.breaker_key("runq", "web.search") == "runq:breaker:web.search"
    assert redis_keys.breaker_key("t", "mcp:fs:read") == "t:breaker:mcp:fs:read"


def test_broken_redis_never_breaks_a_tool(caplog: pytest.LogCaptureFixture) -> None:
    # Given a client whose server is gone, with no retries
    client = redis.Redis(
        host="127.0.0.1",
        port=free_port(),
        socket_connect_timeout=0.2,
        retry=Retry(NoBackoff(), 0),
    )
    breakers = RedisToolBreakers(client, policy=BreakerPolicy(1, 1000))
    # When callers use the breaker as usual
    with caplog.at_level(logging.WARNING, logger="workers.tools.breaker_store"):
        allowed = breakers.allow(TOOL, now_ms=0)
        breakers.record(TOOL, succeeded=False, now_ms=0)
        breakers.record(TOOL, succeeded=True, now_ms=0)
    # Then the call goes ahead, outcomes are dropped without raising, and each is logged
    assert allowed == Admission.ADMITTED  # not CLEAN: its outcome is still reported
    assert len(caplog.records) == 3
    assert all(TOOL in record.getMessage() for record in caplog.records)
    client.close()


def test_one_trial_under_contention(real_redis: redis.Redis) -> None:
    # Given an open breaker whose cool-down has just ended
    breakers = RedisToolBreakers(real_redis, prefix="test", policy=POLICY)
    for _ in range(3):
        breakers.record(TOOL, succeeded=False, now_ms=0)
    start = threading.Barrier(8)
    answers: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        start.wait(timeout=5)
        mine = [breakers.allow(TOOL, now_ms=1000) for _ in range(20)]
        with lock:
            answers.extend(mine)

    # When 8 workers ask 160 times at the same instant
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=8)
    # Then exactly one call is the trial
    assert len(answers) == 160
    assert answers.count(True) == 1


def test_in_memory_is_thread_safe() -> None:
    breakers = InMemoryToolBreakers(BreakerPolicy(failure_threshold=10**6, cooldown_ms=1000))

    def worker() -> None:
        for _ in range(500):
            breakers.record(TOOL, succeeded=False, now_ms=0)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=8)
    assert breakers.state(TOOL) == S(2000, 0)


def test_a_breaker_with_nothing_stored_admits_clean(breakers: ToolBreakers) -> None:
    # A healthy tool: the caller need not report its success (a round trip saved per call)
    assert breakers.allow(TOOL, now_ms=0) == Admission.ADMITTED_CLEAN
    # Once a failure is on record, an admitted call must report how it went
    breakers.record(TOOL, succeeded=False, now_ms=1)
    assert breakers.allow(TOOL, now_ms=2) == Admission.ADMITTED
    breakers.record(TOOL, succeeded=True, now_ms=3)
    assert breakers.allow(TOOL, now_ms=4) == Admission.ADMITTED_CLEAN
