"""One table of limiter cases, run on the pure model, fakeredis (Lua via lupa) and real Redis.

The table pins `now_ms`, so the three backends must give identical waits and identical stored
states: that is what makes `token_bucket.py` a faithful model of `token_bucket.lua`.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import fakeredis
import pytest
import redis

from tests.ports import free_port
from workers import redis_keys
from workers.limits.limiter import InMemoryRateLimiter, LimitKey, RedisRateLimiter
from workers.limits.token_bucket import UNITS_PER_TOKEN, BucketPair, Limits, TakeResult

U = UNITS_PER_TOKEN
KEY = LimitKey(api_key_fingerprint="0123456789abcdef", model="gpt-4o-mini")
REMAINING_REQUESTS = "x-ratelimit-remaining-requests"
REMAINING_TOKENS = "x-ratelimit-remaining-tokens"

Limiter = InMemoryRateLimiter | RedisRateLimiter


@dataclass(frozen=True)
class Take:
    now_ms: int
    tokens: int
    wait_ms: int
    holder: str | None = None


@dataclass(frozen=True)
class Reconcile:
    now_ms: int
    estimated_tokens: int
    actual_tokens: int


@dataclass(frozen=True)
class Observe:
    now_ms: int
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Pause:
    now_ms: int
    delay_ms: int


Op = Take | Reconcile | Observe | Pause


@dataclass(frozen=True)
class Case:
    limits: Limits
    ops: list[Op]
    state: BucketPair | None
    """The stored state after the ops (as last written, not refilled); None = never written."""
    key: LimitKey = field(default=KEY)


def bp(requests: int, tokens: int, updated_ms: int, paused_until_ms: int = 0) -> BucketPair:
    return BucketPair(requests * U, tokens * U, updated_ms, paused_until_ms)


CASES = {
    "fresh-key-starts-full": Case(
        Limits(60, 600), [Take(1000, 1, 0)], bp(59, 599, 1000)
    ),
    "drain-requests-then-wait": Case(
        Limits(2, 0),
        [Take(0, 5, 0), Take(0, 5, 0), Take(0, 5, 30_000), Take(10_000, 5, 20_000)],
        BucketPair(10_000 * 2, 0, 10_000),
    ),
    "come-back-when-told": Case(
        Limits(2, 0), [Take(0, 1, 0), Take(0, 1, 0), Take(0, 1, 30_000), Take(30_000, 1, 0)],
        bp(0, 0, 30_000),
    ),
    # 2/min with 6 s of refill kept back: the second take waits until 6 s of refill is left
    # behind it, not just until a whole request is there.
    "headroom-keeps-refill-back": Case(
        Limits(2, 0, headroom_ms=6000),
        [Take(0, 1, 0), Take(0, 1, 6000), Take(6000, 1, 0)],
        BucketPair(12_000, 0, 6000),
    ),
    "headroom-never-exceeds-the-bucket": Case(
        Limits(1, 0, headroom_ms=5000), [Take(0, 1, 0), Take(0, 1, 60_000)], bp(0, 0, 0)
    ),
    "short-on-tokens-charges-no-request": Case(
        Limits(60, 100), [Take(0, 80, 0), Take(0, 50, 18_000)], bp(59, 20, 0)
    ),
    "short-on-requests-charges-no-tokens": Case(
        Limits(1, 100), [Take(0, 10, 0), Take(0, 10, 60_000)], bp(0, 90, 0)
    ),
    "oversize-waits-for-full-then-goes-into-debt": Case(
        Limits(60, 100),
        [Take(0, 30, 0), Take(0, 250, 18_000), Take(18_000, 250, 0), Take(18_000, 1, 60_600)],
        bp(59, -100, 18_000),
    ),
    "reconcile-up-and-down": Case(
        Limits(0, 1000),
        [Take(0, 100, 0), Reconcile(0, 100, 400), Reconcile(0, 400, 350)],
        bp(0, 650, 0),
    ),
    "reconcile-give-back-capped": Case(
        Limits(0, 1000), [Take(0, 100, 0), Reconcile(1000, 500, 0)], bp(0, 1000, 1000)
    ),
    "reconcile-debt-floor": Case(
        Limits(0, 1000), [Take(0, 500, 0), Reconcile(0, 500, 5000), Take(0, 1, 60_060)],
        bp(0, -1000, 0),
    ),
    "headers-lower-never-raise": Case(
        Limits(60, 1000),
        [
            Observe(0, {REMAINING_REQUESTS: "10", REMAINING_TOKENS: "200"}),
            Observe(0, {REMAINING_REQUESTS: "50", REMAINING_TOKENS: "900"}),
            Take(0, 300, 6000),
        ],
        bp(10, 200, 0),
    ),
    "one-header-mixed-case": Case(
        Limits(60, 1000), [Observe(500, {"X-RateLimit-Remaining-Tokens": "5"})], bp(60, 5, 500)
    ),
    "headers-absent-or-garbage-change-nothing": Case(
        Limits(60, 1000),
        [Observe(0, {"content-type": "x"}), Observe(0, {REMAINING_TOKENS: "lots"})],
        None,
    ),
    "pause-blocks-until-its-end": Case(
        Limits(60, 1000),
        [Pause(1000, 2500), Take(1000, 1, 2500), Take(3000, 1, 500), Pause(3000, 100),
         Take(3500, 1, 0)],
        bp(59, 999, 3500, 3500),
    ),
    "pause-on-unlimited-tokens": Case(
        Limits(60, 0), [Pause(0, 1000), Take(999, 7, 1)], bp(60, 0, 999, 1000)
    ),
    # A holder refused for want of refill is charged into debt and told when it is covered;
    # each holder after it waits one request's refill longer, and a newcomer comes last.
    "holders-reserve-in-turn": Case(
        Limits(60, 0),
        [*[Take(0, 0, 0)] * 60, Take(0, 0, 1_000, "a"), Take(0, 0, 2_000, "b"),
         Take(0, 0, 3_000), Take(500, 0, 2_500, "c")],
        BucketPair(-150_000, 0, 500),
    ),
    # The holder asks again: early, it is told the rest of its wait; when due it goes, and
    # nothing more is charged (its charge was taken when it reserved).
    "a-reservation-is-claimed-once-without-a-second-charge": Case(
        Limits(60, 0),
        [*[Take(0, 0, 0)] * 60, Take(0, 0, 1_000, "a"), Take(400, 0, 600, "a"),
         Take(1_000, 0, 0, "a"), Take(1_000, 0, 1_000, "b")],
        BucketPair(-U, 0, 1_000),
    ),
    # A pause is no place to reserve: the holder waits it out as anyone would, uncharged.
    "no-reservation-under-a-pause": Case(
        Limits(60, 0), [Pause(0, 5_000), Take(0, 0, 5_000, "a"), Take(5_000, 0, 0, "a")],
        bp(59, 0, 5_000, 5_000),
    ),
    # A reservation that would pass the debt floor (-capacity) is refused as before.
    "the-debt-floor-bounds-reservations": Case(
        Limits(1, 0),
        [Take(0, 0, 0), Take(0, 0, 60_000, "a"), Take(0, 0, 120_000, "b")],
        bp(-1, 0, 0),
    ),
    "unlimited-never-touches-the-store": Case(
        Limits(0, 0),
        [Take(0, 10**9, 0), Reconcile(0, 1, 5), Observe(0, {REMAINING_REQUESTS: "0"}),
         Pause(0, 5000), Take(1, 1, 0)],
        None,
    ),
    "older-clock-refills-nothing": Case(
        Limits(60, 0), [Take(10_000, 0, 0), Take(9_000, 0, 0)], bp(58, 0, 10_000)
    ),
    "long-idle-is-full": Case(
        Limits(1, 10), [Take(0, 10, 0), Take(10**12, 10, 0)], bp(0, 0, 10**12)
    ),
    "fractional-refill-is-exact": Case(
        Limits(7, 0), [Take(0, 0, 0), Take(1, 0, 0), Take(2, 0, 0), Take(3, 0, 0),
                       Take(4, 0, 0), Take(5, 0, 0), Take(6, 0, 0), Take(7, 0, 8_565)],
        BucketPair(7 * 7, 0, 7),
    ),
    "big-limits-stay-exact": Case(
        Limits(30_000, 150_000_000),
        [Take(0, 149_999_999, 0), Take(0, 2, 1), Reconcile(1, 149_999_999, 0)],
        BucketPair(29_999 * U + 30_000, 150_000_000 * U, 1),
    ),
    "model-names-with-colons": Case(
        Limits(60, 0), [Take(0, 0, 0)], bp(59, 0, 0), key=LimitKey("f" * 16, "ft:gpt-4o:org:x")
    ),
}  # fmt: skip


@pytest.fixture(params=["model", "fakeredis", "redis"])
def limiter(request: pytest.FixtureRequest) -> Iterator[Limiter]:
    """The same interface over the pure model, fakeredis+Lua and a real redis-server."""
    if request.param == "model":
        yield InMemoryRateLimiter()
    elif request.param == "fakeredis":
        client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        yield RedisRateLimiter(client, prefix="test")
        client.close()
    else:
        yield RedisRateLimiter(request.getfixturevalue("real_redis"), prefix="test")


def apply(limiter: Limiter, limits: Limits, key: LimitKey, op: Op) -> TakeResult | None:
    """Run one op; returns what a take answered."""
    match op:
        case Take(now_ms, tokens, _, holder):
            return limiter.take(key, limits, tokens, now_ms, holder)
        case Reconcile(now_ms, estimated, actual):
            limiter.reconcile(key, limits, estimated, actual, now_ms)
        case Observe(now_ms, headers):
            limiter.observe_headers(key, limits, headers, now_ms)
        case Pause(now_ms, delay_ms):
            limiter.pause(key, limits, delay_ms, now_ms)
    return None


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_limiter_table(limiter: Limiter, case: Case) -> None:
    answers = [apply(limiter, case.limits, case.key, op) for op in case.ops]
    waits = [answer.wait_ms if answer is not None else None for answer in answers]
    expected = [op.wait_ms if isinstance(op, Take) else None for op in case.ops]
    assert waits == expected
    assert limiter.read_state(case.key) == case.state


def test_random_ops_match_the_model(redis_client: redis.Redis) -> None:
    # Given a seeded stream of mixed ops, the Lua script agrees with the pure model at every step
    limiter = RedisRateLimiter(redis_client, prefix="test")
    rng = random.Random(1234)
    model = InMemoryRateLimiter()
    limits = Limits(requests_per_min=7, tokens_per_min=1_003)
    now_ms = 1_700_000_000_000
    for _ in range(300):
        now_ms += rng.choice([0, 0, 1, 13, 999, 8_571, 61_000])
        op = random_op(rng, now_ms)
        assert apply(limiter, limits, KEY, op) == apply(model, limits, KEY, op), op
        assert limiter.read_state(KEY) == model.read_state(KEY), op


def random_op(rng: random.Random, now_ms: int) -> Op:
    kind = rng.choice(["take", "take", "take", "reconcile", "observe", "pause"])
    if kind == "take":
        holder = rng.choice([None, None, "run_a", "run_b", "run_c"])
        return Take(now_ms, rng.choice([0, 1, 50, 333, 1_003, 5_000]), -1, holder)
    if kind == "reconcile":
        return Reconcile(now_ms, rng.randrange(0, 2_000), rng.randrange(0, 4_000))
    if kind == "observe":
        return Observe(now_ms, {REMAINING_REQUESTS: str(rng.randrange(0, 8)),
                                REMAINING_TOKENS: str(rng.randrange(0, 1_100))})  # fmt: skip
    return Pause(now_ms, rng.choice([1, 250, 2_000]))


def test_state_hash_expires_when_idle(redis_client: redis.Redis) -> None:
    limiter = RedisRateLimiter(redis_client, prefix="test")
    name = redis_keys.rate_limit_key("test", KEY.api_key_fingerprint, KEY.model)
    limiter.take(KEY, Limits(60, 600), 1, now_ms=0)
    assert 0 < redis_client.pttl(name) <= 120_000


def test_ttl_outlives_a_long_pause(redis_client: redis.Redis) -> None:
    limiter = RedisRateLimiter(redis_client, prefix="test")
    name = redis_keys.rate_limit_key("test", KEY.api_key_fingerprint, KEY.model)
    limiter.pause(KEY, Limits(60, 600), delay_ms=300_000, now_ms=0)
    assert 300_000 < redis_client.pttl(name) <= 420_000


def test_unlimited_never_calls_redis() -> None:
    # Given a client whose server is gone
    client = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2)
    limiter = RedisRateLimiter(client)
    # Then 0/0 limits answer without a round trip
    assert limiter.take(KEY, Limits(0, 0), 500, now_ms=0).wait_ms == 0
    limiter.pause(KEY, Limits(0, 0), 1000, now_ms=0)
    limiter.reconcile(KEY, Limits(0, 0), 1, 2, now_ms=0)
    limiter.observe_headers(KEY, Limits(0, 0), {REMAINING_TOKENS: "0"}, now_ms=0)
    client.close()


def test_a_take_tells_how_many_requests_the_bucket_holds(limiter: Limiter) -> None:
    # Given a 10 RPM bucket, taken from three times at one instant
    limits = Limits(requests_per_min=10, tokens_per_min=0)
    answers = [limiter.take(KEY, limits, 0, now_ms=0) for _ in range(3)]
    # Then each take says what it left, in the same atomic step
    assert answers == [TakeResult(0, 9), TakeResult(0, 8), TakeResult(0, 7)]
    # and a refused take says what there is (nothing was charged)
    for _ in range(7):
        limiter.take(KEY, limits, 0, now_ms=0)
    assert limiter.take(KEY, limits, 0, now_ms=0) == TakeResult(6_000, 0)
    # A bucket with no request limit counts nothing
    other = LimitKey("0" * 16, "gpt-other")
    assert limiter.take(other, Limits(0, 600), 5, now_ms=0) == TakeResult(0, 0)


def test_negative_tokens_rejected(limiter: Limiter) -> None:
    with pytest.raises(ValueError):
        limiter.take(KEY, Limits(60, 600), -1, now_ms=0)


def test_grants_never_exceed_capacity_under_contention(real_redis: redis.Redis) -> None:
    # Given 8 workers hammering one 600 RPM bucket at a single instant
    limits = Limits(requests_per_min=600, tokens_per_min=100_000)
    limiter = RedisRateLimiter(real_redis, prefix="test")
    start = threading.Barrier(8)
    grants: list[int] = []
    lock = threading.Lock()

    def worker(now_ms: int) -> None:
        start.wait(timeout=5)
        granted = sum(limiter.take(KEY, limits, 10, now_ms).wait_ms == 0 for _ in range(100))
        with lock:
            grants.append(granted)

    def run_window(now_ms: int) -> int:
        grants.clear()
        threads = [threading.Thread(target=worker, args=(now_ms,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=8)
        return sum(grants)

    # When 800 takes race at now_ms=0, then 800 more one second later
    first = run_window(now_ms=0)
    second = run_window(now_ms=1000)
    # Then exactly the capacity is granted, then exactly one second of refill (10 requests)
    assert first == 600
    assert second == 10
    state = limiter.read_state(KEY)
    assert state is not None
    assert state.requests_units == 0
    # 600 * 10 tokens at 0, one second of refill (100 000 units/ms), then 10 * 10 tokens
    assert state.tokens_units == (100_000 - 6_000) * U + 1000 * 100_000 - 100 * U
