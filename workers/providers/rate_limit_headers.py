"""What the provider's response headers say about limits and waiting (pure).

OpenAI sends `x-ratelimit-*` on every reply, `retry-after(-ms)` on a 429 and, on the
Assistants surface, an `openai-poll-after-ms` hint; all three adapters read them here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

RATE_LIMIT_PREFIX = "x-ratelimit-"


def rate_limit_headers_of(headers: Mapping[str, str]) -> dict[str, str]:
    """The `x-ratelimit-*` headers of a reply, for the limiter to correct its buckets."""
    return {k: v for k, v in headers.items() if k.lower().startswith(RATE_LIMIT_PREFIX)}


def parse_retry_after_ms(headers: Mapping[str, str]) -> int | None:
    """Read `retry-after-ms`, else `retry-after` (seconds); None when absent or unparsable.

    Header names are matched case-insensitively. HTTP-date values of `retry-after` are not
    supported (OpenAI sends seconds) and read as absent.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    for name, ms_per_unit in (("retry-after-ms", 1.0), ("retry-after", 1000.0)):
        raw = lowered.get(name)
        if raw is None:
            continue
        try:
            value = float(raw.strip())
        except ValueError:
            continue
        if value >= 0 and value != float("inf"):
            return math.ceil(round(value * ms_per_unit * 1000) / 1000)
    return None


def parse_poll_after_s(headers: Mapping[str, str]) -> float | None:
    """The server's `openai-poll-after-ms` hint in seconds; None when absent or unusable."""
    raw = headers.get("openai-poll-after-ms")
    if raw is None:
        return None
    try:
        delay_ms = float(raw)
    except ValueError:
        return None
    return delay_ms / 1000.0 if delay_ms >= 0 and math.isfinite(delay_ms) else None
