"""The shared rate limiter, as the front door uses it: per-key request rates on the HTTP API
and the budgets the dashboard shows."""

from __future__ import annotations

from workers.limits.limiter import LimitKey as LimitKey
from workers.limits.limiter import RedisRateLimiter as RedisRateLimiter
from workers.limits.token_bucket import Limits as Limits
from workers.redis_keys import fingerprint_api_key as fingerprint_api_key
