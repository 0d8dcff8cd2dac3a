"""Requests per API key: a bucket per key (on the limiter's own Lua), failing open."""

from __future__ import annotations

import logging

import fakeredis
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from gateway.http.key_rate import KeyRateLimit
from workers.limits.limiter import RedisRateLimiter

NOW_MS = 1_000_000


def test_each_key_has_its_own_bucket_refilled_over_the_minute():
    rate = KeyRateLimit(RedisRateLimiter(fakeredis.FakeRedis()), requests_per_min=2)
    assert [rate.wait_ms("key_a", NOW_MS) for _ in range(2)] == [0, 0]
    assert rate.wait_ms("key_a", NOW_MS) == 30_000  # 2 a minute: the next in 30 s
    assert rate.wait_ms("key_b", NOW_MS) == 0
    assert rate.wait_ms("key_a", NOW_MS + 30_000) == 0


def test_no_limit_and_no_redis_let_everything_through():
    assert KeyRateLimit(RedisRateLimiter(fakeredis.FakeRedis()), 0).wait_ms("k", NOW_MS) == 0
    assert KeyRateLimit(None, 5).wait_ms("k", NOW_MS) == 0


def test_an_unreachable_redis_lets_the_request_through_and_says_so(caplog):
    dead = redis.Redis(
        port=9, socket_connect_timeout=0.5, socket_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    rate = KeyRateLimit(RedisRateLimiter(dead), requests_per_min=1)
    with caplog.at_level(logging.WARNING, logger="runq.http.rate"):
        assert rate.wait_ms("key_a", NOW_MS) == 0
    assert "rate limit not checked" in caplog.text
