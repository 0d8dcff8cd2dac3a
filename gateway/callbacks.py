"""Telling a service its run ended: one delivery attempt of a run's signed callback.

The body is `{"type": "run.completed" | …, "data": <RunPublic>}`; the `webhook-id` is the
same on every retry, so a receiver can drop a duplicate. Returns the delay before the next
attempt, or None when nothing more is owed (delivered, given up, or a stale message).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

from config.settings import get_settings
from gateway.public_view import runs_public
from workers.callbacks.delivery import Delivery, post_signed, retry_delay_s
from workers.db import callback_store, store
from workers.wiring import new_session

log = logging.getLogger("runq.callbacks")


def deliver_callback(run_id: str, attempt: int) -> tuple[float | None, str]:
    """Make attempt number `attempt`; (delay before the next one or None, what happened)."""
    settings = get_settings()
    with new_session() as session:
        run = store.get_run(session, run_id=run_id)
        if run.callback_state != "pending" or run.callback_url is None:
            return None, f"nothing owed (callback {run.callback_state})"
        if callback_store.attempts_made(session, run_id=run_id) >= attempt:
            return None, f"attempt {attempt} was already made (redelivered message)"
        public = runs_public(session, [run])[0]
        body = json.dumps({"type": f"run.{run.status}", "data": public.model_dump(mode="json")})
        delivery = Delivery(
            url=run.callback_url,
            body=body.encode(),
            message_id=f"msg_{run.id}",
            secret=settings.callbacks.secret.get_secret_value(),
            timeout_s=settings.callbacks.timeout_s,
            allow_private=settings.callbacks.allow_private,
        )
        result = post_signed(delivery, now_s=int(time.time()))
        callback_store.record_attempt(
            session,
            run_id=run_id,
            attempt=attempt,
            status_code=result.status_code,
            duration_ms=result.duration_ms,
            error=result.error,
        )
        if result.is_delivered:
            callback_store.settle_callback(session, run_id=run_id, state="delivered")
            return None, f"delivered on attempt {attempt}"
        ended_at = run.finished_at or run.updated_at
        given_s = (datetime.now(UTC) - ended_at).total_seconds()
        if result.is_final or given_s > settings.callbacks.give_up_s:
            callback_store.settle_callback(session, run_id=run_id, state="gave_up")
            log.warning("run %s: callback given up after %d attempts", run_id, attempt)
            return None, f"gave up: {result.error}"
    delay_s = retry_delay_s(attempt, settings.callbacks.retry_first_s)
    log.info(
        "run %s: callback attempt %d failed (%s); next in %.1fs",
        run_id,
        attempt,
        result.error,
        delay_s,
    )
    return delay_s, f"attempt {attempt} failed: {result.error}"
