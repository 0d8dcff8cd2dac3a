"""Translate `openai` SDK exceptions into runq's errors, at the edge.

Nothing above the adapters catches an SDK type: they see ProviderUnavailable (try again),
ProviderRateLimited (try again after a pause) or ProviderRejected (give up, with the reason).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import openai

from workers.errors import (
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimedOut,
    ProviderUnavailable,
    TierUnavailable,
)
from workers.providers.rate_limit_headers import parse_retry_after_ms

# 429s that are about money or request size, not rate: waiting will never make them pass.
_TERMINAL_429_CODES = frozenset(
    {
        "insufficient_quota",
        "credit_balance_exhausted",
        "organization_spend_limit_exceeded",
        "project_spend_limit_exceeded",
        "organization_usage_limit_exceeded",
    }
)


@contextmanager
def translate_sdk_errors() -> Iterator[None]:
    """Re-raise any SDK exception from the block as the matching runq ProviderError."""
    try:
        yield
    except openai.RateLimitError as exc:
        raise _classify_429(exc) from exc
    except openai.APITimeoutError as exc:
        raise ProviderTimedOut(f"provider timed out: {exc}") from exc
    except openai.APIConnectionError as exc:
        raise ProviderUnavailable(f"provider unreachable: {exc}") from exc
    except openai.APIStatusError as exc:
        if exc.status_code >= 500 or exc.status_code in (408, 409):
            raise ProviderUnavailable(f"provider error {exc.status_code}: {exc.message}") from exc
        raise ProviderRejected(_describe(exc), code=exc.code) from exc
    except openai.APIResponseValidationError as exc:
        raise ProviderRejected(f"provider reply did not parse: {exc}") from exc


def _classify_429(
    exc: openai.RateLimitError,
) -> ProviderRejected | ProviderRateLimited | TierUnavailable:
    code = exc.code or exc.type or ""
    if code == "resource_unavailable" or "resource unavailable" in exc.message.lower():
        # Flex processing has no capacity now: not our rate, so no pause of the limiter.
        return TierUnavailable(f"service tier unavailable: {exc.message}")
    if code in _TERMINAL_429_CODES or exc.type == "insufficient_quota":
        return ProviderRejected(f"{code}: {exc.message} (add credit or raise the limit)", code=code)
    if "Request too large" in exc.message:
        return ProviderRejected(
            f"request too large for the TPM limit: {exc.message}", code="request_too_large"
        )
    headers: Mapping[str, str] = exc.response.headers
    retry_after_ms = parse_retry_after_ms(headers)
    return ProviderRateLimited(
        f"rate limited: {exc.message}",
        retry_after_s=None if retry_after_ms is None else retry_after_ms / 1000.0,
    )


def _describe(exc: openai.APIStatusError) -> str:
    return f"{exc.status_code} {exc.code or exc.type or 'error'}: {exc.message}"
