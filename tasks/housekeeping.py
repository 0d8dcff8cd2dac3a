"""Beat jobs: put overdue runs (and lost callback messages) back in motion, fire the
schedules' ticks, archive idle threads."""

from __future__ import annotations

from config.celery_app import app
from config.settings import get_settings
from tasks.next_step import send
from workers.public.callbacks import CALLBACK_QUIET_S, find_stalled_callbacks
from workers.public.schedule_door import FiringPolicy, fire_due_schedules
from workers.redis_keys import batch_collect_lock_key, sweep_lock_key
from workers.runs.admission import admit_waiting_runs, release_waiting_runs
from workers.runs.admission_lock import owe_round, run_owed_rounds
from workers.runs.batch_collect import CollectPolicy
from workers.runs.batch_collect import collect_batches as collect_pass
from workers.runs.context import Later, StepName
from workers.runs.sweep import SweepPolicy, sweep_overdue_runs
from workers.runs.threads import archive_idle_threads
from workers.wiring import batch_api_for, get_redis, get_step_context

# A sweep that holds the lock this long (a very slow database) lets the next one start;
# the steps' compare-and-set makes an overlap harmless, only wasteful.
_LOCK_TTL_FACTOR = 0.8


@app.task(name="runq.housekeeping.sweep", ignore_result=True)
def sweep() -> int:
    """Re-send the step of every run overdue by more than the grace; returns how many.

    One sweep per interval across the fleet, even with several beat instances by mistake:
    the first to take the Redis lock sweeps, the others return at once."""
    settings = get_settings()
    lock_ms = int(settings.runs.sweep_every_s * 1000 * _LOCK_TTL_FACTOR)
    if not get_redis().set(sweep_lock_key(settings.redis.prefix), "1", nx=True, px=lock_ms):
        return 0
    runs = settings.runs
    policy = SweepPolicy(runs.recovery_grace_s, runs.sweep_batch, runs.max_recoveries)
    actions = sweep_overdue_runs(get_step_context(), policy)
    for action in actions:
        send(action)
    if settings.runs.in_flight_target > 0:
        # The safety net of fair shares: a round owed whose message was lost runs here.
        owe_round(get_redis(), settings.redis.prefix)
        admit()
    else:
        for run_id in release_waiting_runs(get_step_context(), batch=runs.sweep_batch):
            send(Later(StepName.START, (run_id,)))
    return len(actions)


@app.task(name="runq.housekeeping.collect_batches", ignore_result=True)
def collect_batches() -> int:
    """The batch lane: send waiting turns as a batch, read open batches, wake the answered
    runs; returns the turns it moved. One collector at a time (a Redis lock), so no turn is
    sent in two batches."""
    settings = get_settings()
    lock_ms = int(settings.runs.batch_collect_every_s * 1000 * _LOCK_TTL_FACTOR)
    if not get_redis().set(batch_collect_lock_key(settings.redis.prefix), "1", nx=True, px=lock_ms):
        return 0
    policy = CollectPolicy(retries=settings.runs.batch_retries)
    done = collect_pass(get_step_context(), batch_api_for, policy)
    return done.sent + done.answered + done.failed + done.sent_again


@app.task(name="runq.housekeeping.admit", ignore_result=True)
def admit() -> int:
    """Start waiting runs by weighted fair share while a round is owed; returns how many.

    One round at a time across the fleet (`admission_lock`); a run admitted is due before
    its start is sent, so a lost start is re-sent by the sweep."""
    target = get_settings().runs.in_flight_target
    if target <= 0:
        return 0
    return run_owed_rounds(get_redis(), get_settings().redis.prefix, lambda: _admit_round(target))


def _admit_round(target: int) -> int:
    admitted = admit_waiting_runs(get_step_context(), target=target)
    for run_id in admitted:
        send(Later(StepName.START, (run_id,)))
    return len(admitted)


@app.task(name="runq.housekeeping.fire_schedules", ignore_result=True)
def fire_schedules() -> int:
    """Create the run of every schedule tick that has come; returns how many.

    No lock, unlike the sweep: each tick is claimed by a compare-and-set in the transaction
    that records its run, so two beats (or a redelivered message) fire it once."""
    settings = get_settings()
    policy = FiringPolicy(
        missed_after_s=settings.schedules.missed_after_s,
        batch=settings.schedules.batch,
        default_deadline_s=settings.runs.deadline_s,
        agent_modules=tuple(settings.runs.agent_modules),
    )
    return fire_due_schedules(get_step_context(), policy)


@app.task(name="runq.housekeeping.reap", ignore_result=True)
def reap() -> int:
    """The old reaper's name, kept so queued messages are not stranded: now the sweep."""
    return int(sweep())


@app.task(name="runq.housekeeping.archive_threads", ignore_result=True)
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
