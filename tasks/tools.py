"""The tool task: execute one tool call, at most once (or again, for idempotent tools)."""

from __future__ import annotations

import logging

from celery import Task

from config.celery_app import app
from tasks.step_task import hand_back
from workers.errors import UnknownAgent
from workers.tools.execute import execute_tool_call, refuse_tool_call
from workers.wiring import get_step_context

log = logging.getLogger("runq.tools")


@app.task(name="runq.tools.execute", bind=True, acks_late=True, reject_on_worker_lost=True)
def execute(self: Task, run_id: str, call_id: str) -> dict[str, str | bool]:  # type: ignore[type-arg]
    """Run the call (or return its stored outcome); tool failures are outputs, not errors.

    A worker without the run's agent hands the call back for another worker, a bounded
    number of times, then answers it with an error output so the chord still completes."""
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
        return execute_tool_call(get_step_context(), run_id, call_id).as_json()
    except UnknownAgent as exc:
        hand_back(self, exc)
        return refuse_tool_call(get_step_context(), run_id, call_id, str(exc)).as_json()
