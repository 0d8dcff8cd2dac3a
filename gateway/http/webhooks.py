"""`POST /v1/webhooks/openai`: OpenAI tells runq a background response ended.

Verified with the official SDK (`webhooks.unwrap`, Standard Webhooks signature, 5-minute
tolerance); a bad or stale signature answers 400 and changes nothing. A valid
`response.completed|failed|cancelled|incomplete` sends the run's poll now; the poll
scheduled as a fallback then finds the step sequence moved on and is dropped.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request, status
from openai import InvalidWebhookSignatureError
from starlette.concurrency import run_in_threadpool

from config.settings import get_settings
from tasks.next_step import send
from workers.db import run_pages
from workers.db.statuses import RunStatus
from workers.runs.context import Later, StepName
from workers.wiring import get_openai_client, new_session

log = logging.getLogger("runq.http.webhooks")

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

RESPONSE_ENDED = frozenset(
    {"response.completed", "response.failed", "response.cancelled", "response.incomplete"}
)


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
    response_id = str(getattr(event.data, "id", ""))
    # A query and a publish: off the event loop that serves every /wait and SSE stream.
    return {"event": event.type, "woken": await run_in_threadpool(wake_run, response_id)}


def wake_run(response_id: str) -> str | None:
    """Send the poll of the run waiting on `response_id` now; its id, or None."""
    with new_session() as session:
        run = run_pages.find_run_by_provider_ref(session, provider_ref=response_id)
    if run is None or run.status != RunStatus.IN_PROGRESS:
        return None
    send(Later(StepName.POLL, (run.id, run.step_seq)))
    log.info("run %s: woken by the provider's webhook for %s", run.id, response_id)
    return run.id
