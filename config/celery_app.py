"""The Celery app: JSON only, three queues (runs, tools, callbacks), late acks, stable task
names, the recovery sweep and the schedules' ticks."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import celeryd_after_setup

from config.settings import get_settings

settings = get_settings()
# Without REDIS_URL a worker would have nothing to share with other workers; the default
# only lets `celery -A config` import so it can print a clear connection error.
_broker_url = settings.redis.url or "redis://127.0.0.1:6379/0"

SWEEPS_QUEUE = "sweeps"

# How often each worker looks for a dead worker's unacked messages (kombu's default, 10 s
# with a throttle of 10, looks every 100 s).
RESTORE_EVERY_S = 5

# Imported by a worker and by beat as they start, before any of Celery's start-up signals:
# the modules that connect runq's handlers to those signals (start checks first, so nothing
# starts if they fail). Named here, not imported, so this package imports nothing of the
# engine or the front door; a process that only sends tasks never loads them.
SIGNAL_MODULES = ["gateway.start_checks", "tasks.process_hooks"]

app = Celery(
    "runq",
    include=["tasks.runs", "tasks.tools", "tasks.housekeeping", "tasks.jobs", "tasks.callbacks"],
)
app.conf.update(
    broker_url=_broker_url,
    # redis:// with a channel that drops undecodable queue items instead of exiting.
    broker_transport="config.transport:TolerantRedisTransport",
    result_backend=_broker_url,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    # A task is acknowledged only after it ran, and requeued if its worker process died:
    # with idempotent steps, that turns a crash into a harmless replay.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    # A killed worker's unacked messages (a send_task job it had not recorded yet) come
    # back after the visibility timeout; every worker scans for them every few seconds, so
    # they are redelivered within 30 s of its death. Countdowns stay under half of it (a
    # countdown message sits unacked until its ETA): a longer wait is parked in the database
    # and the sweep sends it when due. A step still running past the timeout may be
    # delivered twice: its compare-and-set drops the second copy.
    broker_transport_options={
        "visibility_timeout": settings.runs.visibility_timeout_s,
        "unacked_restore_interval": RESTORE_EVERY_S,
        "unacked_restore_throttle": 1,
    },
    result_backend_transport_options={"visibility_timeout": settings.runs.visibility_timeout_s},
    result_expires=3600,
    task_default_queue="runs",
    task_routes={
        "runq.runs.*": {"queue": "runs"},
        "runq.tools.*": {"queue": "tools"},
        # Callbacks wait on other services' endpoints: their own queue keeps a slow
        # receiver from holding run or tool slots.
        "runq.callbacks.*": {"queue": "callbacks"},
        # Beat's jobs never wait behind a backlog of run steps (nor expire there): every
        # worker that serves `runs` also serves `sweeps` (see `_serve_sweeps`).
        "runq.housekeeping.*": {"queue": SWEEPS_QUEUE},
    },
    # Task events cost a Redis publish per task state (four per task): off unless watched.
    # Flower switches them on in every worker (`enable_events`) while it runs.
    task_send_sent_event=False,
    worker_send_task_events=False,
    broker_connection_retry_on_startup=True,
    imports=SIGNAL_MODULES,
    beat_schedule={
        # Frequent and cheap (one indexed query): a lost step is re-sent within seconds.
        "sweep-overdue-runs": {
            "task": "runq.housekeeping.sweep",
            "schedule": settings.runs.sweep_every_s,
            "options": {"expires": settings.runs.sweep_every_s},
        },
        # Every second by default: a schedule's tick fires within a second or two of its
        # time, for one indexed range query per interval.
        "fire-schedules": {
            "task": "runq.housekeeping.fire_schedules",
            "schedule": settings.schedules.every_s,
            "options": {"expires": settings.schedules.every_s},
        },
        # The batch lane: waiting turns go out as one batch, open batches are read.
        "collect-batches": {
            "task": "runq.housekeeping.collect_batches",
            "schedule": settings.runs.batch_collect_every_s,
            "options": {"expires": settings.runs.batch_collect_every_s},
        },
        "archive-idle-threads": {"task": "runq.housekeeping.archive_threads", "schedule": 3600.0},
        "resend-lost-callbacks": {
            "task": "runq.housekeeping.resend_callbacks",
            "schedule": 300.0,
        },
    },
)


def point_at_broker(redis_url: str) -> None:
    """Point this process's producer at `redis_url` (the demo starts Redis after import).

    Only before the first message: Celery caches its pools afterwards, so a process that
    needs a second broker (the benchmarks) runs each configuration in its own process.
    """
    app.conf.update(broker_url=redis_url, result_backend=redis_url)


@celeryd_after_setup.connect
def _serve_sweeps(sender: str, instance: Any, **_: Any) -> None:
    # A runs worker also takes beat's jobs from their own queue, so the README's worker
    # lines need no extra queue and a sweep is fetched next to, not behind, queued steps.
    queues = instance.app.amqp.queues
    if "runs" in queues.consume_from:
        queues.select_add(SWEEPS_QUEUE)
