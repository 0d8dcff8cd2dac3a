"""The reaper: finds runs that stopped making progress and sends the step they need.

A worker killed between committing a transition and enqueueing the next message, a broker
that lost a message, or a chord whose counter vanished with a Redis restart all leave a run
with no message in flight. Each step is idempotent, so re-sending it is always safe.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from workers.db import store
from workers.db.models import Run
from workers.db.statuses import FINISHED_TOOL_STATUSES, RunStatus
from workers.runs.context import FanOut, Later, Next, Nothing, StepContext, StepName
from workers.runs.outcomes import fail_run
from workers.runs.state import Fail

log = logging.getLogger("runq.reaper")


def reap_stalled_runs(ctx: StepContext, stale_after_s: float) -> list[Next]:
    """The messages that put every stalled run back in motion (expired runs are ended)."""
    now = ctx.now()
    with ctx.sessions() as session:
        stalled = store.find_stalled_runs(
            session, updated_before=now - timedelta(seconds=stale_after_s)
        )
        for run in stalled:
            store.touch_run(session, run_id=run.id)
    actions = [_next_for(ctx, run) for run in stalled]
    for run, action in zip(stalled, actions, strict=True):
        log.warning("run %s stalled in %s: rescheduling %s", run.id, run.status, action)
    return actions


def _next_for(ctx: StepContext, run: Run) -> Next:
    if ctx.now() >= run.deadline_at:
        fail_run(ctx, run.id, Fail("run passed its deadline", status=RunStatus.EXPIRED))
        return Nothing("expired")
    status = RunStatus(run.status)
    if status is RunStatus.PENDING:
        return Later(StepName.START, (run.id,))
    if status is RunStatus.IN_PROGRESS:
        return Later(StepName.POLL, (run.id, run.step_seq))
    if status is RunStatus.SUBMITTING:
        # The submit was cut off mid-call; the provider may or may not have the outputs.
        # Sending them again risks one duplicate model turn, never a duplicate tool run.
        with ctx.sessions() as session:
            store.transition(
                session,
                run_id=run.id,
                from_statuses=[RunStatus.SUBMITTING],
                to=RunStatus.REQUIRES_TOOLS,
            )
    return _resume_tools(ctx, run)


def _resume_tools(ctx: StepContext, run: Run) -> Next:
    with ctx.sessions() as session:
        calls = store.list_tool_calls(session, run_id=run.id, turn=run.turn)
    unfinished = tuple(c.call_id for c in calls if c.status not in FINISHED_TOOL_STATUSES)
    if unfinished:
        return FanOut(run.id, run.turn, unfinished)
    return Later(StepName.SUBMIT, (run.id, run.turn))
