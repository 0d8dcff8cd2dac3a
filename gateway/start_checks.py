"""`celery -A config worker|beat`, started by users without `runq`'s wrapper, fail at start
as `runq worker` does: one line and an exit code (see gateway/preflight.py), instead of the
traceback wall Celery prints or a dead broker retried a hundred times.

`config/celery_app.py` names this module first in the app's `imports`, so Celery imports it
as a worker or beat starts and these checks run before anything else at `worker_init`.
"""

from __future__ import annotations

from celery.signals import beat_init, worker_init

from gateway.preflight import check_beat_start, check_worker_start

worker_init.connect(check_worker_start, weak=False)  # first: nothing starts if it fails
beat_init.connect(check_beat_start, weak=False)  # outside dev, beat needs the real secrets too
