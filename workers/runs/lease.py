"""The lease a step holds on its run while its provider call is in flight.

The sweep re-sends a run whose `next_due_at` is past by more than the grace. A provider
request can take longer than that (a synchronous turn, a slow create) while its worker is
alive: the step pushes `next_due_at` ahead before the request and a heartbeat renews it
while the request runs, so the sweep never re-sends a live step. A worker that dies stops
renewing, and its run is overdue one lease plus the grace after the last beat.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from workers.db import recovery_store
from workers.db.models import Run
from workers.db.statuses import RunStatus
from workers.runs.context import StepContext

log = logging.getLogger("runq.runs")


@contextmanager
def leased(ctx: StepContext, run: Run) -> Iterator[None]:
    """Hold the run's lease (at its current status and step) for the `with` body."""
    status, step_seq = RunStatus(run.status), run.step_seq
    _renew(ctx, run.id, status, step_seq)
    if ctx.lease_s <= 0:
        yield
        return
    stop = threading.Event()
    beat = threading.Thread(
        target=_beat, args=(ctx, run.id, status, step_seq, stop), name=f"lease {run.id}"
    )
    beat.daemon = True
    beat.start()
    try:
        yield
    finally:
        stop.set()
        # A beat still writing must finish before the step records its own next_due_at, or
        # it would overwrite it (a Retry or Throttle keeps the run's status and step).
        beat.join()


def _beat(
    ctx: StepContext, run_id: str, status: RunStatus, step_seq: int, stop: threading.Event
) -> None:
    while not stop.wait(ctx.lease_s / 2):
        try:
            if not _renew(ctx, run_id, status, step_seq):
                return  # the run moved on: nothing of ours left to hold
        except Exception as exc:  # a failed beat must never touch the step itself
            log.warning("run %s: lease not renewed: %r", run_id, exc)


def _renew(ctx: StepContext, run_id: str, status: RunStatus, step_seq: int) -> bool:
    with ctx.sessions() as session:
        return recovery_store.extend_lease(
            session,
            run_id=run_id,
            status=status,
            step_seq=step_seq,
            due_at=ctx.now() + timedelta(seconds=ctx.lease_s),
        )
