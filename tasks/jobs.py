"""The producer contract for Celery-only services: `runq.runs.submit_job`."""

from __future__ import annotations

from typing import Any

from celery import Task

from config.celery_app import app
from workers.errors import IdempotencyConflict
from workers.public.jobs import accept_job


# A conflict is the producer's answer (FAILURE with the reason, like HTTP's 409), not a bug:
# no traceback in the worker log.
@app.task(
    name="runq.runs.submit_job",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    throws=(IdempotencyConflict,),
)
def submit_job(self: Task, /, **payload: Any) -> str:  # type: ignore[type-arg]
    """Record and start a run from the RunCreate fields (+ idempotency_key, api_key_name);
    an invalid payload becomes a failed run with the reason, never a poisoned queue. A job
    without an idempotency key is keyed by its message id (a redelivery is the same job)."""
    return accept_job(payload, message_id=self.request.id)
