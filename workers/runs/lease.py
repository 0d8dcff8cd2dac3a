"""The lease a step holds on its run while its provider call is in flight.

The sweep re-sends a run whose `next_due_at` is past by more than the grace. A provider
request can take longer than that (a synchronous turn, a slow create) while its worker is
alive: the step pushes `next_due_at` ahead before the request and a heartbeat renews it
while the request runs, so the sweep never re-sends a live step. A worker that dies stops
renewing, and its run is overdue one lease plus the grace after the last beat.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
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
    lease = _Lease(ctx, run.id, status, step_seq, every_s=ctx.lease_s / 2)
    heart = _heartbeat()
    heart.hold(lease)
    try:
        yield
    finally:
        heart.release(lease)


class _Lease:
    """One step's hold on its run, renewed by the process's heartbeat."""

    def __init__(
        self, ctx: StepContext, run_id: str, status: RunStatus, step_seq: int, *, every_s: float
    ) -> None:
        self.ctx, self.run_id, self.status, self.step_seq = ctx, run_id, status, step_seq
        self.every_s = every_s
        self.next_beat = time.monotonic() + every_s
        self.writing = threading.Lock()
        """Held while a beat writes: the step's own write waits for it (see `release`)."""
        self.released = False


class _Heartbeat:
    """One thread per process renews every lease its steps hold.

    Most provider calls end long before their first beat is due, so a lease costs a dict
    entry, not a thread started and joined per call (3 % of a runs worker's CPU)."""

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._leases: dict[int, _Lease] = {}
        self._wakes_at = math.inf
        """When the thread wakes next by itself: a lease due later needs no wake-up call
        (leases of one process share a period, so most are)."""
        self._thread = threading.Thread(target=self._run, name="lease heartbeat", daemon=True)
        self._thread.start()

    def hold(self, lease: _Lease) -> None:
        with self._wake:
            self._leases[id(lease)] = lease
            if lease.next_beat < self._wakes_at:
                self._wake.notify()

    def release(self, lease: _Lease) -> None:
        with self._wake:
            self._leases.pop(id(lease), None)
        # A beat still writing must finish before the step records its own next_due_at, or
        # it would overwrite it (a Retry or Throttle keeps the run's status and step).
        with lease.writing:
            lease.released = True

    def _run(self) -> None:
        while True:
            with self._wake:
                now = time.monotonic()
                due = [lease for lease in self._leases.values() if lease.next_beat <= now]
                if not due:
                    first = min((lease.next_beat for lease in self._leases.values()), default=None)
                    self._wakes_at = math.inf if first is None else first
                    self._wake.wait(None if first is None else first - now)
                    self._wakes_at = -math.inf  # awake: it looks at every lease before waiting
                    continue
                for lease in due:
                    lease.next_beat = now + lease.every_s
            for lease in due:
                self._beat(lease)

    def _beat(self, lease: _Lease) -> None:
        with lease.writing:
            if lease.released:
                return
            try:
                if not _renew(lease.ctx, lease.run_id, lease.status, lease.step_seq):
                    lease.released = True  # the run moved on: nothing of ours left to hold
                    with self._wake:
                        self._leases.pop(id(lease), None)
            except Exception as exc:  # a failed beat must never touch the step itself
                log.warning("run %s: lease not renewed: %r", lease.run_id, exc)


_heart: _Heartbeat | None = None
_heart_lock = threading.Lock()


def _heartbeat() -> _Heartbeat:
    """This process's heartbeat, started on first use."""
    global _heart
    if _heart is None:
        with _heart_lock:
            if _heart is None:
                _heart = _Heartbeat()
    return _heart


def _forget_heartbeat() -> None:
    # A fork copies no threads (and maybe a lock held by one): a child starts its own.
    global _heart, _heart_lock
    _heart, _heart_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_heartbeat)


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
