"""The producer contract for Celery-only services: `runq.runs.submit_job`."""

from __future__ import annotations

from typing import Any

from config.celery_app import app
from gateway.jobs import accept_job


@app.task(name="runq.runs.submit_job", acks_late=True, reject_on_worker_lost=True)
def submit_job(**payload: Any) -> str:
    """Record and start a run from the RunCreate fields (+ idempotency_key, api_key_name);
    an invalid payload becomes a failed run with the reason, never a poisoned queue."""
    return accept_job(payload)
