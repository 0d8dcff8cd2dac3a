"""Service tiers and prompt caching, as the Responses API bills and schedules them.

- `service_tier`: "auto"/"default" (standard), "priority" (faster) or "flex" (slower, and
  refused with 429 `resource_unavailable` for a share of requests, `flex_unavailable_rate`,
  as OpenAI does when flex has no capacity). The reply echoes the tier that served it.
- `prompt_cache_key`: a request whose key and prefix (instructions + tools) were seen before
  gets that prefix as `cached_tokens`; items inherited from a conversation or a previous
  response are cached as before. A request without a key gets no prefix hit: the key is
  what routes a thread's turns to the same cache machine, and the model keeps it simple.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from simulator import script
from simulator.errors import ApiError, bad_request

TIERS = ("default", "priority", "flex")

# Each tier's turn latency relative to default: priority about twice as fast, flex slower.
LATENCY_FACTOR = {"default": 1.0, "priority": 0.5, "flex": 2.0}

FLEX_UNAVAILABLE_MESSAGE = (
    "Resource Unavailable: flex processing has no capacity for this request now. Retry "
    "later, or send it with service_tier 'default'."
)


def tier_of(body: Mapping[str, Any]) -> str:
    """The tier that serves the request ("auto" and none are the project default); 400 for
    a tier this project does not have."""
    value = body.get("service_tier")
    if value in (None, "auto", "default"):
        return "default"
    if value in TIERS:
        return str(value)
    raise bad_request(
        f"Invalid value for 'service_tier': {value!r} is not available to this project; "
        "use auto, default, flex or priority.",
        param="service_tier",
        code="invalid_value",
    )


def flex_unavailable() -> ApiError:
    """429 as OpenAI answers a flex request it has no capacity for."""
    return ApiError(
        429,
        FLEX_UNAVAILABLE_MESSAGE,
        error_type="invalid_request_error",
        code="resource_unavailable",
    )


def prefix_digest(instructions: str | None, tools: list[dict[str, Any]]) -> str:
    """What the prompt cache matches on: the request's fixed prefix."""
    prefix = json.dumps([instructions, tools], sort_keys=True)
    return hashlib.sha256(prefix.encode()).hexdigest()


def prefix_tokens(instructions: str | None, tools: list[dict[str, Any]]) -> int:
    """Tokens of the fixed prefix (instructions and tool schemas)."""
    return script.estimate_input_tokens(instructions, tools, [])
