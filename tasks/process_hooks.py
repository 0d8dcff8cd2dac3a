"""What every worker and beat process does at start-up, connected to Celery's signals:
runq's log format (with the secret scrubber) on Celery's handlers, a metrics port per
process, and fresh clients in each forked pool child.

`config/celery_app.py` names this module in the app's `imports`, so Celery imports it when a
worker or beat starts (before the signals below are sent), and never in a process that
only sends tasks.
"""

from __future__ import annotations

from typing import Any

from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    worker_init,
    worker_process_init,
)

from workers import wiring
from workers.observability import worker_hooks


def fresh_clients_after_fork(**_: Any) -> None:
    """Sockets and DB connections inherited from the parent must not be shared."""
    wiring.reset(after_fork=True)


# Observability (issue 11): runq's log format on Celery's handlers, a metrics port per process.
after_setup_logger.connect(worker_hooks.format_logs, weak=False)
after_setup_task_logger.connect(worker_hooks.format_logs, weak=False)
worker_init.connect(worker_hooks.serve_metrics_unless_prefork, weak=False)
worker_process_init.connect(fresh_clients_after_fork, weak=False)
worker_process_init.connect(worker_hooks.serve_metrics_in_child, weak=False)
