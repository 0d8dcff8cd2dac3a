"""Signed webhooks, as OpenAI sends them when a background response ends.

When `webhook_url` is configured, each background response schedules one POST of
`{"type": "response.<status>", "data": {"id": …}}` at the moment it turns terminal, signed
the Standard Webhooks way with `webhook_secret` (what the SDK's `webhooks.unwrap` checks).
Delivery is best effort and never retried, like a lost webhook in real life.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import uuid

import httpx2

from simulator import lifecycle, respond
from simulator.state import ResponseRecord, SimulatorState

log = logging.getLogger("simulator.webhooks")

_in_flight: set[asyncio.Task[None]] = set()


def schedule_webhook(state: SimulatorState, record: ResponseRecord) -> None:
    """Call while holding `state.lock`: POST the end of `record` when it comes."""
    url, secret = state.config.webhook_url, state.config.webhook_secret
    if not url or not record.background:
        return
    delay_s = max(0.0, record.timeline.finished_s - state.clock())

    def start() -> None:
        task = asyncio.create_task(_deliver(state, record, url, secret))
        _in_flight.add(task)
        task.add_done_callback(_in_flight.discard)

    asyncio.get_running_loop().call_later(delay_s, start)


def signature_headers(
    secret: str, body: bytes, *, message_id: str, timestamp_s: int
) -> dict[str, str]:
    """Standard Webhooks headers for `body`."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp_s}.".encode() + body
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": f"v1,{digest}",
    }


async def _deliver(state: SimulatorState, record: ResponseRecord, url: str, secret: str) -> None:
    with state.lock:
        now_s = state.clock()
        status = respond.current_status(record, now_s)
        if not lifecycle.is_terminal(status):
            return
        state.stats.webhooks_sent += 1
    event_id = f"evt_{uuid.uuid4().hex}"
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": f"response.{status}",
            "created_at": int(now_s),
            "data": {"id": record.id},
        }
    ).encode()
    headers = signature_headers(secret, body, message_id=event_id, timestamp_s=int(now_s))
    try:
        async with httpx2.AsyncClient(timeout=5.0) as client:
            await client.post(url, content=body, headers=headers)
    except httpx2.HTTPError as exc:
        log.warning("webhook for %s not delivered: %s", record.id, exc)
