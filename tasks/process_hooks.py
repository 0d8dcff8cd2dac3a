"""What every worker and beat process does at start-up, connected to Celery's signals:
runq's log format (with the secret scrubber) on Celery's handlers, a metrics port per
process, fresh clients in each forked pool child, and a beat that stops cleanly.

`config/celery_app.py` names this module in the app's `imports`, so Celery imports it when a
worker or beat starts (before the signals below are sent), and never in a process that
only sends tasks.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
from types import FrameType
from typing import Any

from celery import beat
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    beat_init,
    worker_init,
    worker_process_init,
    worker_ready,
)

from config.celery_app import app
from config.settings import get_settings
from workers import wiring
from workers.agent_modules import load_agent_modules
from workers.observability import worker_hooks
from workers.tools import hosts
from workers.tools.registry import default_registry

log = logging.getLogger("runq.worker")


def start_tool_host_server(sender: Any = None, **_: Any) -> None:
    """A worker that runs tool calls forks its host server now, while it is small and still
    (see `workers.tools.host_server`): after its tools are registered, before it connects
    anywhere or serves its metrics. A prefork parent runs no task: each child starts its
    own. A worker whose agent modules fail to import starts none; its first step reports
    the import error, as before."""
    if sender is not None and "prefork" in repr(getattr(sender, "pool_cls", "")):
        return
    if not _runs_tools(sender):
        return
    try:
        load_agent_modules(get_settings().runs.agent_modules)
    except Exception as exc:
        log.warning("no tool host server (hosts are forked by the worker): %s", exc)
        return
    hosts.start_host_server(default_registry)


def _runs_tools(sender: Any) -> bool:
    """Whether this worker consumes the tools queue (a worker without -Q consumes all)."""
    # A prefork child's sender is not the worker: the app's queues are the worker's.
    selected = getattr(sender, "app", app).amqp.queues.consume_from
    return not selected or "tools" in selected


def fresh_clients_after_fork(**_: Any) -> None:
    """Sockets and DB connections inherited from the parent must not be shared."""
    wiring.reset(after_fork=True)


def freeze_start_up_objects(**_: Any) -> None:
    """Exclude what start-up built (modules, the app, agents, clients: ~250,000 objects) from
    every later garbage collection. Each full collection walked all of them, a ~0.15 s pause
    of every thread in the process, for nothing: they live as long as the process. Measured
    on `bench.peers`, the two workers spent ~3 ms of CPU per run in the collector before,
    under 1 ms after."""
    gc.collect()
    gc.freeze()


def leave_beat_through_its_loop(sender: beat.Service, **_: Any) -> None:
    """On SIGTERM or SIGINT, beat stops its loop and saves its schedule there, once.

    Celery's own handler closes the scheduler (the schedule's shelve and the broker
    connection) inside the signal handler, then raises SystemExit from wherever the loop
    was. Caught while reading a broker reply, redis-py's cleanup of the now-closed socket
    buffer raised a ValueError in place of the SystemExit; beat logged it as a failed send,
    ticked on, read the closed shelve, and exited 1 (seen in the compose `beat` line's
    SIGTERM test). Here the handler only marks the service stopped, so the loop ends even
    if the exit is swallowed on its way out, and raises SystemExit to cut a sleep short;
    the loop's own `finally` saves and closes the schedule."""
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers belong to the main thread; a threaded beat keeps Celery's

    def _leave(signum: int, frame: FrameType | None) -> None:
        sender.stop()
        raise SystemExit()

    signal.signal(signal.SIGTERM, _leave)
    signal.signal(signal.SIGINT, _leave)


# Observability (issue 11): runq's log format on Celery's handlers, a metrics port per process.
after_setup_logger.connect(worker_hooks.format_logs, weak=False)
after_setup_task_logger.connect(worker_hooks.format_logs, weak=False)
# Before the metrics port opens: the host server keeps every descriptor open at its fork.
worker_init.connect(start_tool_host_server, weak=False)
worker_init.connect(worker_hooks.serve_metrics_unless_prefork, weak=False)
worker_process_init.connect(fresh_clients_after_fork, weak=False)
worker_process_init.connect(start_tool_host_server, weak=False)
worker_ready.connect(freeze_start_up_objects, weak=False)  # threads pool: the worker itself
worker_process_init.connect(freeze_start_up_objects, weak=False)  # prefork: each child
worker_process_init.connect(worker_hooks.serve_metrics_in_child, weak=False)
beat_init.connect(leave_beat_through_its_loop, weak=False)
