"""Beat jobs: put stalled runs back in motion."""

from __future__ import annotations

from config.celery_app import app
from config.settings import get_settings
from tasks.next_step import send
from workers.runs.reaper import reap_stalled_runs
from workers.runs.threads import archive_idle_threads
from workers.wiring import get_step_context


@app.task(name="runq.housekeeping.reap", ignore_result=True)
def reap() -> int:
    """Re-send the step every stalled run needs; returns how many were stalled."""
    actions = reap_stalled_runs(get_step_context(), get_settings().runs.reaper_stale_s)
    for action in actions:
        send(action)
    return len(actions)


@app.task(name="runq.housekeeping.archive_threads", ignore_result=True)
def archive_threads() -> int:
    """Archive threads idle past RUNQ_THREAD_RETENTION_S; returns how many."""
    return archive_idle_threads(get_step_context(), get_settings().runs.thread_retention_s)
