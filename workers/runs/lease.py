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
from datetime import datetime, timedelta

from workers.db.models import Run
from workers.db.statuses import RunStatus
from workers.runs import ledger
from workers.runs.context import StepContext

log = logging.getLogger("runq.runs")


def lease_until(ctx: StepContext) -> datetime:
    """The due time a lease taken now holds the run at (a claim writes it with the claim)."""
    return ctx.now() + timedelta(seconds=ctx.lease_s)


@contextmanager
def leased(ctx: StepContext, run: Run, *, taken: bool = False) -> Iterator[None]:
    """Hold the run's lease (at its current status and step) for the `with` body.

    `taken`: the step's claim already wrote the lease. Otherwise it is written first, unless
    the run is due far enough ahead that the first heartbeat comes before the sweep could
    find it overdue (a poll that runs on time)."""
    status, step_seq = RunStatus(run.status), run.step_seq
    if not taken and _due_too_soon(ctx, run):
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


def _due_too_soon(ctx: StepContext, run: Run) -> bool:
    if run.next_due_at is None or ctx.lease_s <= 0:
        return True
    first_beat = ctx.now() + timedelta(seconds=ctx.lease_s / 2 + _BEAT_SLACK_S)
    return run.next_due_at + timedelta(seconds=ctx.sweep_grace_s) < first_beat


_BEAT_SLACK_S = 1.0
"""Room for a heartbeat that writes late (a busy worker, a slow database)."""


def _renew(ctx: StepContext, run_id: str, status: RunStatus, step_seq: int) -> bool:
    with ctx.sessions() as session:
        return ledger.extend_lease(
            session, run_id=run_id, status=status, step_seq=step_seq, due_at=lease_until(ctx)
        )
