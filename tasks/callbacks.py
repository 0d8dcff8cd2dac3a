"""The callback task: deliver a run's signed end-of-run event, on its own queue."""

from __future__ import annotations

from config.celery_app import app
from gateway.callbacks import deliver_callback


@app.task(name="runq.callbacks.deliver", acks_late=True, reject_on_worker_lost=True)
def deliver(run_id: str, attempt: int = 1) -> str:
    """One attempt; a failed one schedules the next with a growing delay (about an hour)."""
    delay_s, outcome = deliver_callback(run_id, attempt)
    if delay_s is not None:
        app.signature("runq.callbacks.deliver", args=(run_id, attempt + 1)).apply_async(
            countdown=delay_s
        )
    return outcome
