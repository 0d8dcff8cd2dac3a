"""Turns a step's `Next` into the Celery message that carries it out.

Every signature is built on runq's own app: an unbound `signature()` resolves Celery's
*current* app, which in a thread Celery never saw (a web server's worker thread) is the
default `amqp://localhost` app, so the message would go to a broker nobody runs.
"""

from __future__ import annotations

from typing import Any

from config.celery_app import app
from workers.runs.context import FanOut, Later, Next, Nothing

EXECUTE_TOOL = "runq.tools.execute"


def task_label(name: str, args: Any) -> str:
    """The name Flower shows for a run step: its task name and the run id."""
    run_id = args[0] if args else "?"
    return f"{name} {run_id}"


def send(next_step: Next) -> None:
    """Enqueue what `next_step` asks for (nothing for `Nothing`)."""
    if isinstance(next_step, Later):
        name = next_step.task.value
        app.signature(name, args=next_step.args).apply_async(
            countdown=next_step.after_s, shadow=task_label(name, next_step.args)
        )
    elif isinstance(next_step, FanOut):
        # One message per call, through one producer; no chord: the call that finishes the
        # turn submits it (tasks.tools).
        with app.producer_or_acquire() as producer:
            for call_id in next_step.call_ids:
                app.signature(EXECUTE_TOOL, args=(next_step.run_id, call_id)).apply_async(
                    producer=producer, shadow=f"{EXECUTE_TOOL} {next_step.run_id} {call_id}"
                )
    else:
        assert isinstance(next_step, Nothing)
