"""Turns a step's `Next` into the Celery message that carries it out."""

from __future__ import annotations

from celery import chord, group, signature

from workers.runs.context import FanOut, Later, Next, Nothing, StepName

EXECUTE_TOOL = "runq.tools.execute"


def send(next_step: Next) -> None:
    """Enqueue what `next_step` asks for (nothing for `Nothing`)."""
    if isinstance(next_step, Later):
        signature(next_step.task.value, args=next_step.args).apply_async(
            countdown=next_step.after_s
        )
    elif isinstance(next_step, FanOut):
        calls = group(
            signature(EXECUTE_TOOL, args=(next_step.run_id, call_id), immutable=True)
            for call_id in next_step.call_ids
        )
        submit = signature(
            StepName.SUBMIT.value, args=(next_step.run_id, next_step.turn), immutable=True
        )
        chord(calls)(submit)
    else:
        assert isinstance(next_step, Nothing)
