"""The tool task: execute one tool call, at most once (or again, for idempotent tools)."""

from __future__ import annotations

import logging

from celery import Task

from config.celery_app import app
from tasks.next_step import send
from tasks.step_task import CRASH_RETRY_S, carry_out_step, hand_back
from workers.errors import RunEnded, UnknownAgent
from workers.runs import steps
from workers.runs.context import Later, StepName
from workers.runs.tool_calls import execute_tool_call, refuse_tool_call
from workers.wiring import get_step_context

log = logging.getLogger("runq.tools")


# No result is stored: the execution that records the last output of its turn submits the
# turn itself (a chord cost a result write, a counter and a join per call in Redis).
@app.task(
    name="runq.tools.execute",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def execute(self: Task, run_id: str, call_id: str) -> dict[str, str | bool]:  # type: ignore[type-arg]
    """Run the call (or return its stored outcome); tool failures are outputs, not errors.
    The call that finishes its turn submits the turn's outputs.

    A worker without the run's agent hands the call back for another worker, a bounded
    number of times, then answers it with an error output so the turn still completes."""
    if not (isinstance(run_id, str) and isinstance(call_id, str)):
        # Only a foreign producer sends these; the database would answer with a traceback.
        log.error(
            "refused a runq.tools.execute message: run_id and call_id must be strings, "
            "not %s and %s",
            type(run_id).__name__,
            type(call_id).__name__,
        )
        return {"call_id": str(call_id)[:100], "status": "refused", "ran_now": False}
    try:
        outcome = execute_tool_call(get_step_context(), run_id, call_id)
    except UnknownAgent as exc:
        hand_back(self, exc)
        outcome = refuse_tool_call(get_step_context(), run_id, call_id, str(exc))
    if outcome.finished_turn is not None:
        submit_turn(run_id, outcome.finished_turn)
    return outcome.as_json()


def submit_turn(run_id: str, turn: int) -> str:
    """Submit the turn's outputs here, in the task that recorded the last of them (unless
    the next turn is a synchronous request: that goes to the runs queue).

    A separate submit message cost a task's worth of broker traffic and CPU per turn; the
    submit is the same fenced step either way. If it crashes here (or this worker lacks the
    agent), the submit message is sent after all, and the runs queue's retries take over. If
    this process dies first, the run is overdue when its tools' time is up and the sweep
    sends the submit."""

    def send_instead(run_id: str, exc: Exception) -> str:
        log.warning("run %s: inline submit of turn %d crashed, sending it: %r", run_id, turn, exc)
        send(Later(StepName.SUBMIT, (run_id, turn), after_s=CRASH_RETRY_S))
        return f"submit sent: {exc!r}"

    try:
        return carry_out_step(
            run_id,
            lambda: steps.submit_outputs(get_step_context(), run_id, turn, quick_only=True),
            send_instead,
        )
    except UnknownAgent as exc:
        return send_instead(run_id, exc)
    except RunEnded as ended:
        return str(ended)
