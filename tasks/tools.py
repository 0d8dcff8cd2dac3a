"""The tool task: execute one tool call, at most once (or again, for idempotent tools)."""

from __future__ import annotations

from celery import Task

from config.celery_app import app
from tasks.step_task import hand_back
from workers.errors import UnknownAgent
from workers.tools.execute import execute_tool_call, refuse_tool_call
from workers.wiring import get_step_context


@app.task(name="runq.tools.execute", bind=True, acks_late=True, reject_on_worker_lost=True)
def execute(self: Task, run_id: str, call_id: str) -> dict[str, str | bool]:  # type: ignore[type-arg]
    """Run the call (or return its stored outcome); tool failures are outputs, not errors.

    A worker without the run's agent hands the call back for another worker, a bounded
    number of times, then answers it with an error output so the chord still completes."""
    try:
        return execute_tool_call(get_step_context(), run_id, call_id).as_json()
    except UnknownAgent as exc:
        hand_back(self, exc)
        return refuse_tool_call(get_step_context(), run_id, call_id, str(exc)).as_json()
