"""Telling a service its run ended: one delivery attempt of a run's signed callback.

The body is `{"type": "run.completed" | …, "data": <RunPublic>}`; the `webhook-id` is the
same on every retry, so a receiver can drop a duplicate. Returns the delay before the next
attempt, or None when nothing more is owed (delivered, given up, or a stale message).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from config.settings import CallbackSettings, get_settings
from workers.callbacks.delivery import Attempt, Delivery, post_signed, retry_delay_s
from workers.db import callback_store, store
from workers.db.models import Run
from workers.observability import events
from workers.public.views import runs_public
from workers.runs import ledger
from workers.wiring import new_session

log = logging.getLogger("runq.callbacks")

CALLBACK_QUIET_S = 900.0
"""An owed callback with no attempt for this long lost its message (retries wait 5 min at
most): the housekeeping sweep sends it again."""


def find_stalled_callbacks(quiet_s: float) -> list[tuple[str, int]]:
    """(run id, next attempt) of callbacks whose delivery message was lost."""
    quiet_since = datetime.now(UTC) - timedelta(seconds=quiet_s)
    with new_session() as session:
        return callback_store.stalled_callbacks(session, quiet_since=quiet_since)


def deliver_callback(run_id: str, attempt: int) -> tuple[float | None, str]:
    """Make attempt number `attempt`; (delay before the next one or None, what happened)."""
    settings = get_settings().callbacks
    with new_session() as session:
        run = store.get_run(session, run_id=run_id)
        if run.callback_state != "pending" or run.callback_url is None:
            return None, f"nothing owed (callback {run.callback_state})"
        if not callback_store.claim_attempt(session, run_id=run_id, attempt=attempt):
            return None, f"attempt {attempt} was already made (redelivered message)"
        result = _post(session, run, attempt, settings)
        if result.is_delivered:
            ledger.settle_callback(session, run_id=run_id, state="delivered")
            return None, f"delivered on attempt {attempt}"
        ended_at = run.finished_at or run.updated_at
        if result.is_final or (datetime.now(UTC) - ended_at).total_seconds() > settings.give_up_s:
            ledger.settle_callback(session, run_id=run_id, state="gave_up")
            log.warning("run %s: callback given up after %d attempts", run_id, attempt)
            return None, f"gave up: {result.error}"
    delay_s = retry_delay_s(attempt, settings.retry_first_s)
    log.info("run %s: callback attempt %d failed (%s)", run_id, attempt, result.error)
    return delay_s, f"attempt {attempt} failed: {result.error}; next in {delay_s:.1f}s"


def _post(session: Session, run: Run, attempt: int, settings: CallbackSettings) -> Attempt:
    """POST the signed event once and record what the claimed attempt got."""
    public = runs_public(session, [run])[0]
    body = json.dumps({"type": f"run.{run.status}", "data": public.model_dump(mode="json")})
    delivery = Delivery(
        url=run.callback_url or "",
        body=body.encode(),
        message_id=f"msg_{run.id}",
        secret=settings.secret.get_secret_value(),
        timeout_s=settings.timeout_s,
        allow_private=settings.allow_private,
    )
    session.commit()  # end the read transaction: no pooled connection waits on their server
    result = post_signed(delivery, now_s=int(time.time()))
    # runq_callbacks_total{outcome}: ok, refused (address guard: never retried), failed.
    events.callback_sent(
        "ok" if result.is_delivered else "refused" if result.is_final else "failed"
    )
    callback_store.finish_attempt(
        session,
        run_id=run.id,
        attempt=attempt,
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        error=result.error,
    )
    return result


ACTION_CALLBACK_ATTEMPTS = 6
"""Tries at telling a producer its run waits (about 5 minutes of backoff in all); the run's
view and event stream say it too, so a receiver that is down longer still finds out."""


def deliver_action_callback(run_id: str, step_seq: int, attempt: int) -> tuple[float | None, str]:
    """One try at POSTing `run.requires_action` (or `run.requires_approval`) for a run that
    waits at `step_seq`. Nothing is owed once the run moved on. The `webhook-id` is the same
    on every try of one wait, so a receiver can drop a duplicate."""
    settings = get_settings().callbacks
    with new_session() as session:
        run = store.get_run(session, run_id=run_id)
        if run.status != "requires_action" or run.step_seq != step_seq:
            return None, f"nothing owed (the run is {run.status}, step {run.step_seq})"
        if run.callback_url is None:
            return None, "nothing owed (no callback URL)"
        public = runs_public(session, [run])[0]
        session.commit()
    waits_for_approval = any(c.status == "awaiting_approval" for c in public.tool_calls)
    kind = "run.requires_approval" if waits_for_approval else "run.requires_action"
    delivery = Delivery(
        url=run.callback_url,
        body=json.dumps({"type": kind, "data": public.model_dump(mode="json")}).encode(),
        message_id=f"msg_{run.id}_wait_{step_seq}",
        secret=settings.secret.get_secret_value(),
        timeout_s=settings.timeout_s,
        allow_private=settings.allow_private,
    )
    result = post_signed(delivery, now_s=int(time.time()))
    events.callback_sent(
        "ok" if result.is_delivered else "refused" if result.is_final else "failed"
    )
    if result.is_final or attempt >= ACTION_CALLBACK_ATTEMPTS:
        outcome = "delivered" if result.is_delivered else f"gave up: {result.error}"
        return None, f"{kind} {outcome} on attempt {attempt}"
    delay_s = retry_delay_s(attempt, settings.retry_first_s)
    return delay_s, f"{kind} attempt {attempt} failed: {result.error}; next in {delay_s:.1f}s"
