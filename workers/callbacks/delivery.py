"""One signed callback POST: no redirects, a timeout, and an outcome instead of an error.

The address is checked again right before sending (DNS may have changed since submit).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx2

from workers.callbacks.address_guard import check_callback_url
from workers.callbacks.signing import signed_headers
from workers.errors import CallbackRefused
from workers.runs.backoff import Schedule, grow_delay_s

RETRY_SCHEDULE_CAP_S = 300.0


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one POST got: a status code (None if no answer), its duration and any error."""

    status_code: int | None
    duration_ms: int
    error: str | None

    @property
    def is_delivered(self) -> bool:
        """A 2xx answer: the receiver has it."""
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def is_final(self) -> bool:
        """Delivered, or refused by the address guard (a retry would be refused again)."""
        return self.is_delivered or (self.error or "").startswith("refused:")


@dataclass(frozen=True, slots=True)
class Delivery:
    """Everything one POST needs."""

    url: str
    body: bytes
    message_id: str
    secret: str
    timeout_s: float
    allow_private: bool


def post_signed(delivery: Delivery, *, now_s: int) -> Attempt:
    """POST `delivery.body` signed the Standard Webhooks way; never raises."""
    started = time.monotonic()
    try:
        check_callback_url(delivery.url, allow_private=delivery.allow_private)
    except CallbackRefused as exc:
        return Attempt(None, 0, f"refused: {exc}")
    headers = signed_headers(
        delivery.secret, message_id=delivery.message_id, timestamp_s=now_s, body=delivery.body
    )
    try:
        with httpx2.Client(timeout=delivery.timeout_s, follow_redirects=False) as client:
            reply = client.post(delivery.url, content=delivery.body, headers=headers)
    except httpx2.HTTPError as exc:
        return Attempt(None, _ms_since(started), f"{type(exc).__name__}: {exc}"[:500])
    error = None if reply.is_success else f"HTTP {reply.status_code}"
    return Attempt(reply.status_code, _ms_since(started), error)


def retry_delay_s(attempt: int, first_s: float) -> float:
    """Wait before try `attempt + 1`: doubling from `first_s`, at most five minutes."""
    return grow_delay_s(attempt - 1, Schedule(first_s, 2.0, RETRY_SCHEDULE_CAP_S))


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
