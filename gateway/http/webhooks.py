"""`POST /v1/webhooks/openai`: OpenAI tells runq a background response ended.

Verified with the official SDK (`webhooks.unwrap`, Standard Webhooks signature, 5-minute
tolerance); a bad or stale signature answers 400 and changes nothing. A valid
`response.completed|failed|cancelled|incomplete` sends the run's poll now; the poll
scheduled as a fallback then finds the step sequence moved on and is dropped.

Each `webhook-id` is processed once: a verified event whose id was seen within the window
in which its signature stays valid is acknowledged and ignored (a replay, or the provider's
own retry of an event we already handled).
"""

from __future__ import annotations

import hashlib
import logging

from fastapi import APIRouter, HTTPException, Request, status
from openai import InvalidWebhookSignatureError
from starlette.concurrency import run_in_threadpool

from config.settings import get_settings
from tasks.next_step import send
from workers.public.records import RunStatus, run_pages
from workers.public.runtime import (
    Later,
    StepName,
    get_openai_client,
    get_redis,
    new_session,
    webhook_seen_key,
)

log = logging.getLogger("runq.http.webhooks")

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

RESPONSE_ENDED = frozenset(
    {"response.completed", "response.failed", "response.cancelled", "response.incomplete"}
)
SIGNATURE_TOLERANCE_S = 300
"""The SDK's `unwrap` accepts a timestamp this far from now, either way."""
SEEN_FOR_S = 2 * SIGNATURE_TOLERANCE_S
"""A signed event is valid for this long in all: an id is remembered that long."""


@router.post("/openai")
async def openai_webhook(request: Request) -> dict[str, str | None]:
    """Wake the run whose response ended; other event types are acknowledged and ignored."""
    settings = get_settings()
    secret = settings.webhooks.secret.get_secret_value() if settings.webhooks.secret else ""
    if not secret:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "webhooks are off: set OPENAI_WEBHOOK_SECRET to use them"
        )
    body = await request.body()
    client = get_openai_client(
        settings.provider.base_url, settings.provider.api_key.get_secret_value()
    )
    try:
        event = client.webhooks.unwrap(body, dict(request.headers), secret=secret)
    except (InvalidWebhookSignatureError, ValueError) as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"webhook refused: {exc}") from None
    if event.type not in RESPONSE_ENDED:
        return {"event": event.type, "woken": None}
    webhook_id = request.headers.get("webhook-id", "")
    # Redis, a query and a publish: off the event loop that serves every /wait and SSE stream.
    if not await run_in_threadpool(first_sight, webhook_id):
        log.info("webhook %s seen before: a replay, ignored", webhook_id[:100])
        return {"event": event.type, "woken": None, "replay": "ignored"}
    response_id = str(getattr(event.data, "id", ""))
    try:
        woken = await run_in_threadpool(wake_run, response_id)
    except Exception:
        # The provider re-sends a delivery that failed, with the same id: let that copy in.
        await run_in_threadpool(get_redis().delete, _seen_key(webhook_id))
        raise
    return {"event": event.type, "woken": woken}


def first_sight(webhook_id: str) -> bool:
    """Record `webhook_id` (verified: a forger cannot burn ids); False if it was seen within
    the signature's window. One SET NX: two copies arriving at once cannot both win."""
    return bool(get_redis().set(_seen_key(webhook_id), "1", nx=True, ex=SEEN_FOR_S))


def _seen_key(webhook_id: str) -> str:
    digest = hashlib.sha256(webhook_id.encode()).hexdigest()  # any header, a fixed-size key
    return webhook_seen_key(get_settings().redis.prefix, digest)


def wake_run(response_id: str) -> str | None:
    """Send the poll of the run waiting on `response_id` now; its id, or None."""
    with new_session() as session:
        run = run_pages.find_run_by_provider_ref(session, provider_ref=response_id)
    if run is None or run.status != RunStatus.IN_PROGRESS:
        return None
    send(Later(StepName.POLL, (run.id, run.step_seq)))
    log.info("run %s: woken by the provider's webhook for %s", run.id, response_id)
    return run.id
