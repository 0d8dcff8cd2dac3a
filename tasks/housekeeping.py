"""Beat jobs: put stalled runs (and lost callback messages) back in motion."""

from __future__ import annotations

from config.celery_app import app
from config.settings import get_settings
from gateway.callbacks import CALLBACK_QUIET_S, find_stalled_callbacks
from tasks.next_step import send
from workers.runs.reaper import reap_stalled_runs
from workers.runs.threads import archive_idle_threads
from workers.wiring import get_step_context


@app.task(name="runq.housekeeping.reap")
def reap() -> int:
    """Re-send the step every stalled run needs; returns how many were stalled."""
    actions = reap_stalled_runs(get_step_context(), get_settings().runs.reaper_stale_s)
    for action in actions:
        send(action)
    return len(actions)


@app.task(name="runq.housekeeping.archive_threads")
def archive_threads() -> int:
    """Archive threads idle past RUNQ_THREAD_RETENTION_S; returns how many."""
    return archive_idle_threads(get_step_context(), get_settings().runs.thread_retention_s)


@app.task(name="runq.housekeeping.resend_callbacks")
def resend_callbacks() -> int:
    """Re-send owed callbacks whose message was lost; returns how many."""
    stalled = find_stalled_callbacks(CALLBACK_QUIET_S)
    for run_id, attempt in stalled:
        app.signature("runq.callbacks.deliver", args=(run_id, attempt)).apply_async()
    return len(stalled)
