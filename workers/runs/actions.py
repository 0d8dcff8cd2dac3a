"""Moving a waiting run on: a person approves or rejects a call, the caller submits its
outputs, or the wait runs out.

Each is one transaction: the call rows change (a compare-and-set on their waiting status,
so an approval sent twice at once is recorded once), the calls still waiting are counted
after a lock on the run's row, and if none is left the run goes back to requires_tools in
the same commit. Exactly one of two decisions committing at once finds nothing left, so
the turn's tools are sent once. What to send next is returned as a `Next`, which the caller
(HTTP, the CLI, the sweep, a task) sends after the commit; if that send is lost, the run is
overdue in requires_tools and the sweep sends it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from sqlmodel import Session

from workers.agents import ActionTimeout, get_agent
from workers.db import store
from workers.db.models import Run, ToolCall
from workers.db.session_hooks import announce
from workers.db.statuses import RunStatus, ToolCallStatus, is_terminal
from workers.errors import ActionConflict, BadToolOutputs, IllegalTransition, ToolCallNotFound
from workers.runs import gates, ledger
from workers.runs.context import FanOut, Later, Next, Nothing, StepContext, StepName
from workers.runs.outcomes import fail_run
from workers.runs.recovery import tool_wait_s
from workers.runs.state import Fail

log = logging.getLogger("runq.runs")


def decide_call(
    ctx: StepContext,
    run_id: str,
    call_id: str,
    *,
    approve: bool,
    by: str,
    reason: str | None = None,
) -> Next:
    """Approve or reject one call that waits for approval. ActionConflict if it does not
    wait (decided before, never needed approval, or the run ended), ToolCallNotFound if the
    run has no such call, RunNotFound if there is no such run."""
    with ctx.sessions() as session:
        run = store.get_run(session, run_id=run_id)
        call = _waiting_call(session, run, call_id, ToolCallStatus.AWAITING_APPROVAL)
        output = None if approve else gates.rejected_output(reason or "")
        decision = store.Decision(approve=approve, by=by, reason=reason, output=output)
        now = ctx.now()
        if not store.decide_waiting_call(
            session, run_id=run_id, call_id=call_id, decision=decision, now=now
        ):
            session.rollback()
            raise ActionConflict(f"tool call {call_id} was decided meanwhile; nothing changed")
        verdict = "approved" if approve else "rejected"
        log.info(
            "run %s call %s (%s): %s by %s", run_id, call_id, call.name, verdict, by or "operator"
        )
        next_step = _resume_if_done(ctx, session, run)
        announce(
            session,
            run_id,
            f"tool_call.{verdict}",
            {"call_id": call_id, "name": call.name, "reason": reason},
        )
        return next_step


def submit_outputs(
    ctx: StepContext, run_id: str, outputs: Sequence[tuple[str, str]], *, by: str
) -> Next:
    """Record the caller's outputs, (call id, output), for every call of the current turn
    that waits for one, all in one request. BadToolOutputs for a missing, duplicate or
    not-waiting call id, ToolCallNotFound for an id the run never had, ActionConflict if the
    run does not wait for outputs (any more)."""
    with ctx.sessions() as session:
        run = store.get_run(session, run_id=run_id)
        _refuse_ended(run)
        calls = store.list_tool_calls(session, run_id=run_id)
        awaiting = [
            c.call_id
            for c in calls
            if c.turn == run.turn and c.status == ToolCallStatus.AWAITING_OUTPUT
        ]
        if run.status != RunStatus.REQUIRES_ACTION or not awaiting:
            raise ActionConflict(
                f"run {run_id} does not wait for tool outputs (it is {run.status}); outputs "
                "are taken once, while the run is requires_action"
            )
        given = [call_id for call_id, _ in outputs]
        problem = gates.check_outputs(awaiting, [c.call_id for c in calls], given)
        if problem is not None:
            raise (ToolCallNotFound if problem.unknown else BadToolOutputs)(problem.message)
        now = ctx.now()
        for call_id, output in outputs:
            if not store.answer_waiting_call(
                session, run_id=run_id, call_id=call_id, output=output, by=by, now=now
            ):
                session.rollback()
                raise ActionConflict(f"tool call {call_id} was answered meanwhile; nothing changed")
        log.info("run %s: the caller submitted %d tool outputs", run_id, len(outputs))
        next_step = _resume_if_done(ctx, session, run)
        announce(session, run_id, "tool_calls.submitted", {"call_ids": given})
        return next_step


def time_out_wait(ctx: StepContext, run: Run) -> Next:
    """The sweep found a waiting turn past its wait: the agent's `on_action_timeout` says
    whether the calls still waiting are answered with an error output (reject: the model
    carries on without them) or the run fails. Past the run's deadline, it expires."""
    agent = get_agent(run.agent)
    with ctx.sessions() as session:
        left = store.waiting_left(session, run_id=run.id, turn=run.turn)
        session.rollback()
    names = ", ".join(call_id for call_id, _ in left) or "none"
    # The agent's timeout (when it has one) is how long the calls waited: the run row's
    # own times are the database's clock, not the step's.
    waited_s = agent.action_timeout_s or (run.deadline_at - run.created_at).total_seconds()
    if ctx.now() >= run.deadline_at or agent.on_action_timeout is ActionTimeout.FAIL:
        expired = ctx.now() >= run.deadline_at
        reason = (
            f"the run passed its deadline while tool calls waited ({names})"
            if expired
            else f"no approval or output came within {waited_s:g}s for tool calls {names}"
        )
        fail_run(
            ctx, run.id, Fail(reason, status=RunStatus.EXPIRED if expired else RunStatus.FAILED)
        )
        return Nothing(reason)
    with ctx.sessions() as session:
        held = store.get_run(session, run_id=run.id)
        if held.status != RunStatus.REQUIRES_ACTION or held.step_seq != run.step_seq:
            return Nothing("moved on while the sweep looked")
        for call_id, status in left:
            waited_for = ToolCallStatus(status)
            output = gates.timed_out_output(waited_for, waited_s)
            store.give_up_waiting_call(
                session, run_id=run.id, call_id=call_id, waited_for=waited_for, output=output
            )
        log.warning(
            "run %s: tool calls %s waited %.0fs: answered as not run", run.id, names, waited_s
        )
        return _resume_if_done(ctx, session, held)


def _waiting_call(session: Session, run: Run, call_id: str, waits: ToolCallStatus) -> ToolCall:
    """The run's call `call_id`, which must wait for `waits`."""
    call = store.get_tool_call(session, run_id=run.id, call_id=call_id)
    if call is None:
        raise ToolCallNotFound(f"run {run.id} has no tool call {call_id!r}")
    _refuse_ended(run)
    if call.status != waits:
        raise ActionConflict(_not_waiting(call, waits))
    return call


def _refuse_ended(run: Run) -> None:
    if is_terminal(RunStatus(run.status)):
        raise ActionConflict(f"run {run.id} already ended {run.status}; nothing to decide")


def _not_waiting(call: ToolCall, waits: ToolCallStatus) -> str:
    if call.decision is not None:
        return f"tool call {call.call_id} was already {call.decision}; a decision is final"
    what = "approval" if waits is ToolCallStatus.AWAITING_APPROVAL else "an output"
    return f"tool call {call.call_id} ({call.name}) does not wait for {what} ({call.status})"


def _resume_if_done(ctx: StepContext, session: Session, run: Run) -> Next:
    """Commit what was recorded; if nothing of the turn waits any more, move the run back to
    requires_tools in the same commit and say what runs next: the approved calls, or (all
    answered) the submit."""
    left = store.waiting_left(session, run_id=run.id, turn=run.turn)
    if left:
        session.commit()
        return Nothing(f"{len(left)} tool calls of turn {run.turn} still wait")
    calls = store.list_tool_calls(session, run_id=run.id, turn=run.turn)
    to_run = [c for c in calls if c.status == ToolCallStatus.PENDING]
    timeouts = [
        ctx.tools.get(c.name).longest_run_s(ctx.tool_retries) for c in to_run if c.name in ctx.tools
    ]
    due = ledger.Due(ctx.now() + timedelta(seconds=tool_wait_s(timeouts, ctx.tool_grace_s)))
    try:
        ledger.resume_tools(session, run, due=due)
    except IllegalTransition as exc:
        raise ActionConflict(f"run {run.id} moved on meanwhile ({exc}); nothing changed") from None
    if to_run:
        return FanOut(run.id, run.turn, tuple(c.call_id for c in to_run), due_recorded=True)
    return Later(StepName.SUBMIT, (run.id, run.turn))
