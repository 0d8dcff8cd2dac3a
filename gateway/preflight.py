"""Checks a command makes before it needs a service, so a mistake fails fast and in one line."""

from __future__ import annotations

import importlib
import time

from gateway.entry_errors import CommandFailed, explain
from gateway.exit_codes import ExitCode

# A CLI call should fail in seconds, not wait out the OS's TCP timeout.
REDIS_CONNECT_TIMEOUT_S = 2.0


def require_redis_url() -> str:
    """REDIS_URL, or a configuration error that says how to set it."""
    from config.settings import get_settings

    url = get_settings().redis.url
    if not url:
        raise CommandFailed(
            "configuration error: REDIS_URL is not set. Point it at the Redis every worker "
            "shares, e.g. REDIS_URL=redis://localhost:6379/0 (or try `runq demo`, which starts "
            "its own)",
            ExitCode.CONFIG_ERROR,
        )
    return url


def require_redis() -> str:
    """REDIS_URL, after one ping with a short timeout; UNREACHABLE says how long it tried."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    url = require_redis_url()
    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
        socket_timeout=REDIS_CONNECT_TIMEOUT_S,
        retry=Retry(NoBackoff(), 0),  # one try: the message says how long that took
    )
    started_s = time.monotonic()
    try:
        client.ping()
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise explain(exc, time.monotonic() - started_s) from exc
    finally:
        client.close()
    return url


def load_agents(modules: list[str] | None = None) -> None:
    """Import `modules` (default RUNQ_AGENT_MODULES, or the demo agent when that is empty); a
    module that fails to import is a configuration error."""
    from config.settings import get_settings
    from workers.agents import load_agent_modules

    modules = get_settings().runs.agent_modules if modules is None else modules
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise CommandFailed(
                f"configuration error: RUNQ_AGENT_MODULES names {module!r}, which cannot be "
                f"imported ({exc}); check the name and that it is on PYTHONPATH",
                ExitCode.CONFIG_ERROR,
            ) from exc
    load_agent_modules(modules)


def require_agent(name: str) -> None:
    """Load the agents, then UnknownAgent (exit 7) unless `name` is one of them."""
    from workers.agents import get_agent

    load_agents()
    get_agent(name)
