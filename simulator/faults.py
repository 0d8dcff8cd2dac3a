"""Seeded fault injection and OpenAI-style per-minute rate limits.

Limits are continuously refilled token buckets, one pair (requests, tokens) per (API key,
model), as OpenAI describes its limiter: a bucket holds one minute's allowance and refills at
limit/60 per second. Rejected requests are not charged, so the "try again in" hint is exact.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

LimitKind = Literal["requests", "tokens"]

_LIMIT_NAMES = {"requests": "requests per min (RPM)", "tokens": "tokens per min (TPM)"}
_RATE_LIMIT_DOCS = "Visit https://platform.openai.com/account/rate-limits to learn more."


def format_go_duration(seconds: float) -> str:
    """Render a duration the way OpenAI's reset headers do (Go style): 20ms, 1.5s, 6m0s, 1h2m3s."""
    total_ms = max(0, math.ceil(seconds * 1000))
    if total_ms == 0:
        return "0s"
    if total_ms < 1000:
        return f"{total_ms}ms"
    hours, rest_ms = divmod(total_ms, 3_600_000)
    minutes, rest_ms = divmod(rest_ms, 60_000)
    whole_s, frac_ms = divmod(rest_ms, 1000)
    text = f"{whole_s}.{frac_ms:03d}".rstrip("0").rstrip(".") + "s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return text


@dataclass(slots=True)
class TokenBucket:
    """A bucket of `limit_per_min` units that refills continuously at limit/60 per second."""

    limit_per_min: int
    level: float
    updated_s: float

    def refill(self, now_s: float) -> None:
        """Add what trickled in since the last look, up to the limit."""
        elapsed_s = max(0.0, now_s - self.updated_s)
        self.level = min(
            float(self.limit_per_min), self.level + elapsed_s * self.limit_per_min / 60
        )
        self.updated_s = now_s

    def seconds_until(self, amount: float) -> float:
        """How long until `amount` units are available (0 if they already are)."""
        missing = amount - self.level
        return max(0.0, missing * 60 / self.limit_per_min)

    def seconds_until_full(self) -> float:
        """What OpenAI calls the reset time: until the bucket is full again."""
        return self.seconds_until(self.limit_per_min)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a request was refused with 429, and when it could succeed."""

    kind: LimitKind
    message: str
    retry_after_s: float | None
    """None when waiting cannot help (the request alone is over the limit)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The limiter's answer: headers for the reply, and a rejection if the request is refused."""

    headers: dict[str, str]
    rejection: Rejection | None


class RateLimiter:
    """Request and token buckets per (API key, model); a limit of 0 switches that bucket off."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str, LimitKind], TokenBucket] = {}

    def clear(self) -> None:
        """Forget every bucket: the next request of each key starts full."""
        self._buckets.clear()

    def check(
        self, *, api_key: str, model: str, tokens: int, rpm: int, tpm: int, now_s: float
    ) -> Verdict:
        """Charge one request and `tokens` tokens, or refuse without charging anything."""
        limits: dict[LimitKind, int] = {"requests": rpm, "tokens": tpm}
        wanted: dict[LimitKind, int] = {"requests": 1, "tokens": tokens}
        buckets = {
            kind: self._bucket(api_key, model, kind, limit, now_s)
            for kind, limit in limits.items()
            if limit > 0
        }
        rejection = _first_rejection(buckets, wanted, model)
        if rejection is None:
            for kind, bucket in buckets.items():
                bucket.level -= wanted[kind]
        return Verdict(headers=_limit_headers(buckets), rejection=rejection)

    def _bucket(
        self, api_key: str, model: str, kind: LimitKind, limit: int, now_s: float
    ) -> TokenBucket:
        key = (api_key, model, kind)
        bucket = self._buckets.get(key)
        # A limit changed through /_sim/config starts a fresh, full bucket.
        if bucket is None or bucket.limit_per_min != limit:
            bucket = TokenBucket(limit_per_min=limit, level=float(limit), updated_s=now_s)
            self._buckets[key] = bucket
        bucket.refill(now_s)
        return bucket


def _first_rejection(
    buckets: dict[LimitKind, TokenBucket], wanted: dict[LimitKind, int], model: str
) -> Rejection | None:
    for kind, bucket in buckets.items():
        limit, requested = bucket.limit_per_min, wanted[kind]
        if requested > limit:
            message = (
                f"Request too large for {model} in organization org-simulator on "
                f"{_LIMIT_NAMES[kind]}: Limit {limit}, Requested {requested}. "
                f"The input or output tokens must be reduced in order to run successfully. "
                f"{_RATE_LIMIT_DOCS}"
            )
            return Rejection(kind=kind, message=message, retry_after_s=None)
        if bucket.level < requested:
            wait_s = bucket.seconds_until(requested)
            used = limit - math.floor(bucket.level)
            message = (
                f"Rate limit reached for {model} in organization org-simulator on "
                f"{_LIMIT_NAMES[kind]}: Limit {limit}, Used {used}, Requested {requested}. "
                f"Please try again in {format_go_duration(wait_s)}. {_RATE_LIMIT_DOCS}"
            )
            return Rejection(kind=kind, message=message, retry_after_s=wait_s)
    return None


def _limit_headers(buckets: dict[LimitKind, TokenBucket]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for kind, bucket in buckets.items():
        headers[f"x-ratelimit-limit-{kind}"] = str(bucket.limit_per_min)
        headers[f"x-ratelimit-remaining-{kind}"] = str(max(0, math.floor(bucket.level)))
        headers[f"x-ratelimit-reset-{kind}"] = format_go_duration(bucket.seconds_until_full())
    return headers


def retry_after_headers(wait_s: float) -> dict[str, str]:
    """`retry-after-ms` (which the SDK prefers) and `retry-after` in whole seconds (at least 1)."""
    return {
        "retry-after-ms": str(max(1, math.ceil(wait_s * 1000))),
        "retry-after": str(max(1, math.ceil(wait_s))),
    }


class FaultInjector:
    """Decides which requests get an injected 500, from a seeded RNG so runs can be replayed."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def reseed(self, seed: int) -> None:
        """Restart the sequence of decisions."""
        self._rng = random.Random(seed)

    def should_fail(self, rate: float) -> bool:
        """True for about `rate` of the calls; no RNG draw when faults are off."""
        return rate > 0 and self._rng.random() < rate
