"""The producer contract for Celery-only services: `runq.runs.submit_job`."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task

from config.celery_app import app
from tasks.next_step import send
from workers.errors import IdempotencyConflict
from workers.public.jobs import accept_job, accept_tool_outputs

log = logging.getLogger("runq.jobs")


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


@app.task(name="runq.runs.submit_tool_outputs", acks_late=True, reject_on_worker_lost=True)
def submit_tool_outputs(**payload: Any) -> str:
    """The outputs of a run's caller-executed tool calls, from a Celery-only producer (the
    kwargs of `POST /v1/runs/{id}/submit_tool_outputs` plus `run_id` and `api_key_name`).
    A refusal is logged and returned as this task's result (one line), never raised: a bad
    message must not poison the queue."""
    next_step, outcome = accept_tool_outputs(payload)
    if outcome.startswith("refused"):
        log.warning("runq.runs.submit_tool_outputs %s", outcome)
    send(next_step)
    return outcome
