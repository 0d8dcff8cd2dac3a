"""Run-step tasks: thin shells over `workers.runs.steps`."""

from __future__ import annotations

from config.celery_app import app
from tasks.step_task import RunStepTask
from workers.runs import steps
from workers.wiring import get_step_context


@app.task(name="runq.runs.start", base=RunStepTask, bind=True)
def start(self: RunStepTask, run_id: str, step_seq: int | None = None) -> str:
    """Create the run at the provider and schedule its first poll (`step_seq`: a claimed
    start whose create is still owed)."""
    return self.carry_out(run_id, lambda: steps.start_run(get_step_context(), run_id, step_seq))


@app.task(name="runq.runs.poll", base=RunStepTask, bind=True)
def poll(self: RunStepTask, run_id: str, step_seq: int) -> str:
    """Poll the run's current turn; re-enqueues itself with a countdown while it runs."""
    return self.carry_out(run_id, lambda: steps.poll_run(get_step_context(), run_id, step_seq))


@app.task(name="runq.runs.submit", base=RunStepTask, bind=True)
def submit(self: RunStepTask, run_id: str, turn: int) -> str:
    """Chord callback: send all tool outputs of `turn` back to the provider."""
    return self.carry_out(run_id, lambda: steps.submit_outputs(get_step_context(), run_id, turn))
