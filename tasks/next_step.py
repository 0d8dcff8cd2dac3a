"""Turns a step's `Next` into the Celery message that carries it out.

Every message is sent through runq's own app: an unbound `signature()` resolves Celery's
*current* app, which in a thread Celery never saw (a web server's worker thread) is the
default `amqp://localhost` app, so the message would go to a broker nobody runs.

Messages go straight to `send_task` (routed by name, as `task_routes` says), not through a
signature and the task's `apply_async`, which add nothing runq uses. Their arguments are ids
and counters, so their repr (what Flower shows) is written here instead of by Celery's
`saferepr`, which walks them looking for long strings. A send costs a sixth less CPU
(`python -m bench.step_parts`).
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
        _send(name, next_step.args, countdown=next_step.after_s)
    elif isinstance(next_step, FanOut):
        # One message per call, through one producer; no chord: the call that finishes the
        # turn submits it (tasks.tools).
        with app.producer_or_acquire() as producer:
            for call_id in next_step.call_ids:
                _send(
                    EXECUTE_TOOL,
                    (next_step.run_id, call_id),
                    producer=producer,
                    shadow=f"{EXECUTE_TOOL} {next_step.run_id} {call_id}",
                )
    else:
        assert isinstance(next_step, Nothing)


def _send(
    name: str,
    args: tuple[Any, ...],
    *,
    countdown: float | None = None,
    producer: Any = None,
    shadow: str | None = None,
) -> None:
    app.send_task(
        name,
        args=args,
        countdown=countdown,
        producer=producer,
        shadow=shadow or task_label(name, args),
        ignore_result=True,
        argsrepr=repr(args),
        kwargsrepr="{}",
    )
