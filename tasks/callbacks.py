"""The callback task: deliver a run's signed end-of-run event, on its own queue."""

from __future__ import annotations

import time

from config.celery_app import app
from config.settings import get_settings
from workers.public.callbacks import deliver_action_callback, deliver_callback

DELIVER = "runq.callbacks.deliver"
ACTION = "runq.callbacks.action"


@app.task(name=DELIVER, acks_late=True, reject_on_worker_lost=True)
def deliver(run_id: str, attempt: int = 1, not_before: float | None = None) -> str:
    """One attempt; a failed one schedules the next with a growing delay (about an hour).

    `not_before` (epoch seconds): the attempt waits until then, in hops no longer than a
    broker countdown may be (a longer one would be redelivered while it waits)."""
    if not_before is not None and time.time() < not_before:
        _later(run_id, attempt, not_before)
        return f"attempt {attempt} waits"
    delay_s, outcome = deliver_callback(run_id, attempt)
    if delay_s is not None:
        _later(run_id, attempt + 1, time.time() + delay_s)
    return outcome


def _later(run_id: str, attempt: int, not_before: float) -> None:
    countdown = min(max(not_before - time.time(), 0.0), get_settings().runs.max_countdown_s)
    app.signature(DELIVER, args=(run_id, attempt, not_before)).apply_async(countdown=countdown)


@app.task(name=ACTION, acks_late=True, reject_on_worker_lost=True)
def action(run_id: str, step_seq: int, attempt: int = 1) -> str:
    """Tell the run's producer that it waits for approval or tool outputs; a failed try is
    made again after a growing delay, a few times, while the run still waits."""
    delay_s, outcome = deliver_action_callback(run_id, step_seq, attempt)
    if delay_s is not None:
        countdown = min(delay_s, get_settings().runs.max_countdown_s)
        app.signature(ACTION, args=(run_id, step_seq, attempt + 1)).apply_async(countdown=countdown)
    return outcome
