"""The response cache on fakeredis and real Redis, and on a Redis that is down."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.ports import free_port
from workers import redis_keys
from workers.cache.response_cache import CacheStats, ResponseCache

KEY = "v1:" + "ab" * 32
VALUE = {"id": "resp_1", "output_text": "Sunny", "usage": {"input_tokens": 12}}


@pytest.fixture
def client(redis_client: redis.Redis) -> redis.Redis:
    return redis_client


@pytest.fixture
def broken_client() -> Iterator[redis.Redis]:
    """A client whose server is not there: every command fails with ConnectionError.

    Retries off, as a cache client should be built: redis-py's default (3 retries with
    exponential backoff) would spend seconds per command on a dead server.
    """
    client = redis.Redis(
        host="127.0.0.1",
        port=free_port(),
        socket_connect_timeout=0.2,
        retry=Retry(NoBackoff(), retries=0),
    )
    yield client
    client.close()


def test_miss_then_put_then_hit(client: redis.Redis) -> None:
    cache = ResponseCache(client, prefix="test")
    assert cache.get(KEY) is None
    cache.put(KEY, VALUE)
    assert cache.get(KEY) == VALUE
    assert cache.get(KEY) == VALUE
    assert cache.stats() == CacheStats(hits=2, misses=1)


def test_counters_are_shared_between_instances(client: redis.Redis) -> None:
    # Given two workers' caches on one Redis
    first = ResponseCache(client, prefix="test")
    second = ResponseCache(client, prefix="test")
    # When each looks something up
    first.put(KEY, VALUE)
    first.get(KEY)
    second.get("v1:other")
    # Then both see the same totals
    assert first.stats() == second.stats() == CacheStats(hits=1, misses=1)


def test_prefixes_are_separate(client: redis.Redis) -> None:
    ResponseCache(client, prefix="a").put(KEY, VALUE)
    other = ResponseCache(client, prefix="b")
    assert other.get(KEY) is None
    assert other.stats() == CacheStats(hits=0, misses=1)


def test_default_ttl_is_set(client: redis.Redis) -> None:
    ResponseCache(client, prefix="test", ttl_s=600).put(KEY, VALUE)
    assert 0 < client.ttl(redis_keys.cache_entry_key("test", KEY)) <= 600


def test_ttl_per_put(client: redis.Redis) -> None:
    ResponseCache(client, prefix="test", ttl_s=600).put(KEY, VALUE, ttl_s=30)
    assert 0 < client.ttl(redis_keys.cache_entry_key("test", KEY)) <= 30


def test_stats_start_at_zero(client: redis.Redis) -> None:
    assert ResponseCache(client, prefix="test").stats() == CacheStats(hits=0, misses=0)


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_corrupt_entry_is_a_miss(client: redis.Redis, raw: bytes) -> None:
    client.set(redis_keys.cache_entry_key("test", KEY), raw)
    cache = ResponseCache(client, prefix="test")
    assert cache.get(KEY) is None
    assert cache.stats() == CacheStats(hits=0, misses=1)


def test_down_redis_is_a_miss_and_puts_are_skipped(
    broken_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    cache = ResponseCache(broken_client, prefix="test")
    with caplog.at_level(logging.WARNING, logger="workers.cache.response_cache"):
        assert cache.get(KEY) is None
        cache.put(KEY, VALUE)
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.WARNING]


def test_unserialisable_value_is_a_bug_not_an_outage(broken_client: redis.Redis) -> None:
    with pytest.raises(TypeError):
        ResponseCache(broken_client).put(KEY, {"when": object()})


@pytest.mark.parametrize("ttl_s", [0, -1])
def test_ttl_must_be_positive(broken_client: redis.Redis, ttl_s: int) -> None:
    with pytest.raises(ValueError):
        ResponseCache(broken_client, ttl_s=ttl_s)
    with pytest.raises(ValueError):
        ResponseCache(broken_client).put(KEY, VALUE, ttl_s=ttl_s)
