"""The recovery sweep: re-send the step of every run whose next step is overdue.

Every step that sends a message records when that message should have done its work
(`record_next_due`); beat runs `sweep_overdue_runs` every few seconds. A run overdue by
more than the grace lost its message (a killed worker's reserved message, a Redis restart,
a submit its last tool call never sent) and gets its step again within seconds. The decision is
`recovery.recover` (pure); this module loads, persists and names the message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from workers.db import recovery_store
from workers.db.changes import RunChanges
from workers.db.models import Run
from workers.db.statuses import RunStatus
from workers.runs import actions, ledger
from workers.runs.context import FanOut, Later, Next, Nothing, StepContext, StepName
from workers.runs.outcomes import fail_run
from workers.runs.recovery import (
    EXECUTE_TOOLS,
    WAIT_OVER,
    GiveUp,
    OverdueRun,
    Resend,
    next_due_in_s,
    recover,
    tool_wait_s,
)
from workers.runs.state import Fail

log = logging.getLogger("runq.sweep")

_STEP_TASKS = {"start": StepName.START, "poll": StepName.POLL, "submit": StepName.SUBMIT}


@dataclass(frozen=True, slots=True)
class SweepPolicy:
    """The sweep's knobs, as plain values."""

    grace_s: float = 5.0
    batch: int = 500
    max_recoveries: int = 5


def record_next_due(
    ctx: StepContext, next_step: Next, max_countdown_s: float | None = None
) -> bool:
    """Record when `next_step`'s message should have done its work (before it is sent).

    True when the wait is longer than `max_countdown_s`: the step is parked, no message is
    to be sent, and the sweep sends it when it is due (a broker countdown that long would
    outlive the visibility timeout and be redelivered while it waits)."""
    if isinstance(next_step, Later):
        run_id, wait_s = str(next_step.args[0]), next_step.after_s
        parked = max_countdown_s is not None and wait_s > max_countdown_s
    elif isinstance(next_step, FanOut):
        run_id, parked = next_step.run_id, False
        wait_s = _chord_wait_s(ctx, run_id, next_step.call_ids)
    else:
        return False
    with ctx.sessions() as session:
        due = ledger.Due(ctx.now() + timedelta(seconds=wait_s), parked=parked)
        ledger.note_due(session, run_id=run_id, due=due)
    return parked


def sweep_overdue_runs(ctx: StepContext, policy: SweepPolicy) -> list[Next]:
    """The messages that put every overdue run back in motion; ends runs that must end."""
    now = ctx.now()
    with ctx.sessions() as session:
        overdue = recovery_store.find_overdue_runs(
            session,
            due_before=now - timedelta(seconds=policy.grace_s),
            parked_due_before=now,
            limit=policy.batch,
        )
    actions = [_recover_one(ctx, run, policy) for run in overdue]
    return [action for action in actions if not isinstance(action, Nothing)]


def _recover_one(ctx: StepContext, run: Run, policy: SweepPolicy) -> Next:
    with ctx.sessions() as session:
        unfinished: tuple[tuple[str, str], ...] = ()
        if run.status in (RunStatus.REQUIRES_TOOLS, RunStatus.SUBMITTING):
            unfinished = tuple(
                recovery_store.unfinished_calls(session, run_id=run.id, turn=run.turn)
            )
    view = OverdueRun(
        status=RunStatus(run.status),
        step_seq=run.step_seq,
        turn=run.turn,
        deadline_at=run.deadline_at,
        recoveries=run.recoveries,
        unfinished_tools=unfinished,
        created=run.provider_ref is not None,
        parked=run.parked,
    )
    decision = recover(view, ctx.now(), policy.max_recoveries)
    if isinstance(decision, GiveUp):
        log.error("run %s: %s", run.id, decision.reason)
        fail_run(ctx, run.id, Fail(decision.reason, status=decision.status))
        return Nothing(decision.reason)
    if decision.step == WAIT_OVER:
        return actions.time_out_wait(ctx, run)
    return _resend(ctx, run, decision, policy)


def _resend(ctx: StepContext, run: Run, step: Resend, policy: SweepPolicy) -> Next:
    wait_s = next_due_in_s(
        step, run.recoveries, policy.grace_s, _chord_wait_s(ctx, run.id, step.call_ids)
    )
    with ctx.sessions() as session:
        if run.parked:
            sent = ledger.unpark(
                session, run=run, due_at=ctx.now() + timedelta(seconds=policy.grace_s)
            )
        else:
            due_at = ctx.now() + timedelta(seconds=wait_s)
            sent = ledger.mark_resent(session, run=run, due_at=due_at)
        if not sent:
            return Nothing("moved on while the sweep looked")
        if step.release_submit:
            # The submit was cut off mid-call; the provider may or may not have the outputs.
            # A new step: the submit it released loses its compare-and-set if it ever
            # answers.
            changes = RunChanges(recoveries=run.recoveries + 1, step_seq=run.step_seq + 1)
            ledger.release_submit(session, run, changes=changes)
    if run.parked:
        log.info("run %s: parked %s is due: sending it", run.id, step.step)
    else:
        log.warning("run %s overdue in %s: re-sending %s", run.id, run.status, step.step)
    if step.step == EXECUTE_TOOLS:
        return FanOut(run.id, run.turn, step.call_ids)
    args: tuple[str | int, ...] = (run.id,)
    if step.step == "poll" or (step.step == "start" and run.status != RunStatus.PENDING):
        args = (run.id, run.step_seq)
    elif step.step == "submit":
        args = (run.id, run.turn)
    return Later(_STEP_TASKS[step.step], args)


def _chord_wait_s(ctx: StepContext, run_id: str, call_ids: tuple[str, ...]) -> float:
    if not call_ids:
        return 0.0
    with ctx.sessions() as session:
        names = recovery_store.call_names(session, run_id=run_id, call_ids=call_ids)
    timeouts = [
        ctx.tools.get(name).longest_run_s(ctx.tool_retries) for name in names if name in ctx.tools
    ]
    return tool_wait_s(timeouts, ctx.tool_grace_s)
