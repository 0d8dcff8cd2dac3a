"""Is the broker there? Asked before a front door records a run, so that a user whose
Redis is down gets one clear line at once instead of a pending run they never saw."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis

from workers.errors import ConfigError

CHECK_TIMEOUT_S = 2.0
"""Long enough for a remote Redis under load, short enough that a typo fails fast."""


def redact_url(url: str) -> str:
    """`url` without its user name or password, fit for an error message."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def check_broker(url: str, timeout_s: float = CHECK_TIMEOUT_S) -> None:
    """Raise ConfigError naming REDIS_URL (without credentials) if Redis does not answer."""
    client = redis.Redis.from_url(
        url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s, retry=None
    )
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        raise ConfigError(
            f"Redis at {redact_url(url)} (REDIS_URL) is unreachable: {type(exc).__name__}"
        ) from exc
    finally:
        client.close()
