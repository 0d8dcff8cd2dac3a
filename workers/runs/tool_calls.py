"""Executing one tool call: at most once, or at least once for idempotent tools.

A call is claimed (pending -> running) in the database before the tool runs, so a
redelivered or duplicated message never runs it again: it returns the stored output. The
claim is a lease (see `_Lease`): while it holds, no copy of the task touches the call, and
since the tool's process is killed at its timeout (`invoke`), a lease that ran out means no
attempt is still running. A call found `running` past its lease was interrupted by a lost
worker. An idempotent tool (`@tool(idempotent=True)`) is then run again (its last attempt
before a verdict alone in its worker process, so a crash then is that call's:
`workers.tools.solo_gate`); any other is answered with an error output rather than re-run,
because running a side-effecting tool twice is worse than telling the model it failed.
Tools marked `retryable` get a few more tries inside the claimed execution only if they are
also `idempotent`: a tool that raised or timed out may have done its work before it failed,
so a non-idempotent one is never run again automatically; its call ends with an error output
telling the model it may or may not have run. A tool whose circuit breaker is open answers
"unavailable" at once.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from workers.agents import Agent, get_agent
from workers.db import recovery_store, store
from workers.db.models import ToolCall
from workers.db.statuses import FINISHED_TOOL_STATUSES, RunStatus, ToolCallStatus, is_terminal
from workers.db.store import StoredCall
from workers.observability.events import ToolRun, tool_executed
from workers.runs.context import StepContext
from workers.runs.outcomes import fail_run
from workers.runs.state import Fail
from workers.tools.breaker import Admission
from workers.tools.invoke import ToolResult, invoke_tool
from workers.tools.mcp_tools import offered_tools

log = logging.getLogger("runq.tools")

MAY_HAVE_RUN = (
    "it may or may not have run (or taken effect); it was not run again because it is not "
    "declared idempotent"
)
"""What the model is told when a non-idempotent call was cut off or failed part-way."""

INTERRUPTED_OUTPUT = json.dumps(
    {
        "error": {
            "type": "ToolInterrupted",
            "message": f"the worker running this tool was lost; {MAY_HAVE_RUN}",
        }
    }
)


@dataclass(frozen=True, slots=True)
class ToolCallOutcome:
    """What `execute_tool_call` did: ran it now, found it done, or found it in flight."""

    call_id: str
    status: str
    ran_now: bool
    finished_turn: int | None = None
    """Set when this execution recorded the last output of its turn: the turn to submit."""

    def as_json(self) -> dict[str, str | bool]:
        """Small JSON-able summary for Flower (the output itself stays in the DB)."""
        return {"call_id": self.call_id, "status": self.status, "ran_now": self.ran_now}


def execute_tool_call(ctx: StepContext, run_id: str, call_id: str) -> ToolCallOutcome:
    """Run the call once and store its output. Idempotent per (run_id, call_id).

    Each session here ends before the next begins and before a tool runs: a thread never
    holds two pooled connections, nor one while a tool runs (16 threads re-running calls of
    a lost worker at once each held two, and exhausted the pool for 30 s)."""
    with ctx.solo.shared():
        with ctx.sessions() as session:
            found = store.get_call_of_run(session, run_id=run_id, call_id=call_id)
            if found is None:
                log.error("run %s call %s: no such tool call recorded", run_id, call_id)
                return ToolCallOutcome(call_id, "missing", ran_now=False)
            call = found.call
            if call.status in FINISHED_TOOL_STATUSES:
                return ToolCallOutcome(call_id, call.status, ran_now=False)
            interrupted = call.status == ToolCallStatus.RUNNING
            if not interrupted:
                if is_terminal(RunStatus(found.run_status)):
                    return ToolCallOutcome(call_id, "skipped", ran_now=False)  # cancelled, expired
                # Before the claim: a worker without the agent hands the call back unclaimed.
                agent = get_agent(found.agent)
                now = ctx.now()
                if not store.claim_tool_call(session, run_id=run_id, call_id=call_id, now=now):
                    return ToolCallOutcome(call_id, ToolCallStatus.RUNNING, ran_now=False)
        if not interrupted:
            return _run_and_record(ctx, agent, call, _Lease(now), prior_attempts=0)
    # A re-run waits for the gate alone (`_rerun_interrupted`): not while holding it shared.
    return _settle_interrupted(ctx, found)


@dataclass(slots=True)
class _Lease:
    """This worker's hold on a running call: the start time its claim wrote. The call is
    left alone by everyone else until that time + the tool's timeout + RUNQ_TOOL_GRACE_S;
    each further attempt renews it first, and every write is fenced by it (compare-and-set),
    so a worker that lost its lease can neither run the call again nor record an output."""

    started_at: datetime
    lost: bool = False


def _run_and_record(
    ctx: StepContext, agent: Agent, call: StoredCall, lease: _Lease, *, prior_attempts: int
) -> ToolCallOutcome:
    """Run a call this worker has claimed and store its output; attempts add up."""
    result, attempts = _run_tool(ctx, agent, call, lease)
    recorded = None
    if not lease.lost:
        with ctx.sessions() as session:
            recorded = store.finish_tool_call(
                session,
                run_id=call.run_id,
                call_id=call.call_id,
                output=result.output,
                error=result.error,
                duration_ms=result.duration_ms,
                attempts=prior_attempts + attempts,
                lease=lease.started_at,
            )
    if not recorded:
        log.warning(
            "run %s call %s: %s lost its lease to another worker; this attempt's output "
            "was not recorded",
            call.run_id,
            call.call_id,
            call.name,
        )
        return ToolCallOutcome(call.call_id, "lease lost", ran_now=True)
    tool_executed(
        ToolRun(
            run_id=call.run_id,
            agent=agent.name,
            call_id=call.call_id,
            tool=call.name,
            turn=call.turn,
            outcome=_outcome(result),
            duration_ms=result.duration_ms,
            attempts=prior_attempts + attempts,
            error_type=result.error_type,
        )
    )
    status = _finished_status(result)
    return ToolCallOutcome(call.call_id, status, True, _turn_if_done(recorded, call.turn))


def _turn_if_done(recorded: store.Recorded | None, turn: int) -> int | None:
    return turn if recorded is not None and recorded.left_in_turn == 0 else None


def _run_tool(
    ctx: StepContext, agent: Agent, call: StoredCall, lease: _Lease
) -> tuple[ToolResult, int]:
    """Invoke the tool, with retries for retryable tools and the breaker's verdict."""
    now_ms = int(ctx.now().timestamp() * 1000)
    allowed = offered_tools(ctx.tools, agent.tools, agent.mcp_servers, calling=call.name)
    known = call.name in ctx.tools and call.name in allowed
    admission = Admission.ADMITTED_CLEAN
    if known and ctx.breakers is not None:
        admission = ctx.breakers.allow(call.name, now_ms)
        if admission == Admission.REFUSED:
            return _unavailable(call.name), 1
    spec = ctx.tools.get(call.name) if known else None
    # Only an idempotent tool is tried again: one that failed part-way may have had its effect.
    may_retry = spec is not None and spec.retryable and spec.idempotent
    tries = 1 + (ctx.tool_retries if may_retry else 0)
    for attempt in range(1, tries + 1):
        result = invoke_tool(ctx.tools, call.name, call.arguments, allowed_names=allowed)
        if not result.is_tool_fault or attempt == tries or not _renewed(ctx, call, lease):
            break
        log.info(
            "run %s call %s: retrying %s (attempt %d)",
            call.run_id,
            call.call_id,
            call.name,
            attempt + 1,
        )
    clean_success = admission == Admission.ADMITTED_CLEAN and not result.is_tool_fault
    if known and ctx.breakers is not None and not clean_success:
        # The cool-down starts when the failure is known, not when the call started.
        done_ms = int(ctx.now().timestamp() * 1000)
        ctx.breakers.record(call.name, not result.is_tool_fault, done_ms)
    if spec is not None and not spec.idempotent and _may_have_run(result, spec.retryable):
        result = _maybe_ran(result)
    return result, attempt


def _renewed(ctx: StepContext, call: StoredCall, lease: _Lease) -> bool:
    """Extend the lease for one more attempt; False (and the lease marked lost) if another
    worker took the call over while the last attempt ran."""
    now = ctx.now()
    with ctx.sessions() as session:
        if recovery_store.renew_tool_call(session, call=call, lease=lease.started_at, now=now):
            lease.started_at = now
            return True
    lease.lost = True
    return False


def _may_have_run(result: ToolResult, retryable: bool) -> bool:
    """A timed-out call was stopped part-way; a raised one of a tool that asked for retries
    failed in a way its author expected to be transient, and is told why it was not retried."""
    return result.error_type == "ToolTimedOut" or (retryable and result.is_tool_fault)


def _maybe_ran(result: ToolResult) -> ToolResult:
    """The same failure, with the model told the call may or may not have taken effect."""
    message = f"{json.loads(result.output)['error']['message']}; {MAY_HAVE_RUN}"
    output = json.dumps(
        {"error": {"type": result.error_type, "message": message}}, ensure_ascii=False
    )
    return dataclasses.replace(result, output=output, error=f"{result.error_type}: {message}")


def _outcome(result: ToolResult) -> str:
    if not result.is_error:
        return "succeeded"
    return "unavailable" if result.error_type == "ToolUnavailable" else "failed"


def _finished_status(result: ToolResult) -> ToolCallStatus:
    return ToolCallStatus.FAILED if result.is_error else ToolCallStatus.SUCCEEDED


def _unavailable(name: str) -> ToolResult:
    message = f"tool {name!r} is unavailable after repeated failures; try again later"
    output = json.dumps({"error": {"type": "ToolUnavailable", "message": message}})
    return ToolResult(output, True, f"ToolUnavailable: {message}", 0, "ToolUnavailable")


def _settle_interrupted(ctx: StepContext, found: store.CallOfRun) -> ToolCallOutcome:
    """A call found running: still in its lease (left alone), or cut off by a lost worker
    (answered, re-run, or its run failed as poison). `found` is the read just made."""
    call = found.call
    if call.started_at is None:
        return ToolCallOutcome(call.call_id, "missing", ran_now=False)
    timeout_s = ctx.tools.get(call.name).timeout_s if call.name in ctx.tools else 0.0
    given_up_at = call.started_at + timedelta(seconds=timeout_s + ctx.tool_grace_s)
    if ctx.now() < given_up_at:
        return ToolCallOutcome(call.call_id, ToolCallStatus.RUNNING, ran_now=False)
    if not (call.name in ctx.tools and ctx.tools.get(call.name).idempotent):
        with ctx.sessions() as session:
            return _answer_interrupted(session, call)
    if call.attempts >= ctx.max_deliveries:
        return _fail_poison_run(ctx, call)
    return _rerun_interrupted(ctx, found)


def _answer_interrupted(session: Session, call: StoredCall) -> ToolCallOutcome:
    """A non-idempotent call cut off by a lost worker is answered, not run again."""
    recorded = store.finish_tool_call(
        session,
        run_id=call.run_id,
        call_id=call.call_id,
        output=INTERRUPTED_OUTPUT,
        error="interrupted: worker lost while the tool was running",
        duration_ms=0,
        lease=call.started_at,
    )
    if recorded is None:
        return ToolCallOutcome(call.call_id, ToolCallStatus.RUNNING, ran_now=False)
    log.warning(
        "run %s call %s: interrupted by a lost worker; not re-run", call.run_id, call.call_id
    )
    done = _turn_if_done(recorded, call.turn)
    return ToolCallOutcome(call.call_id, ToolCallStatus.FAILED, False, done)


def _rerun_interrupted(ctx: StepContext, found: store.CallOfRun) -> ToolCallOutcome:
    """An idempotent call cut off by a lost worker runs again (at-least-once); the re-claim
    is a compare-and-set on the start time, so two redeliveries cannot both re-run it."""
    call = found.call
    if is_terminal(RunStatus(found.run_status)):
        return ToolCallOutcome(call.call_id, "skipped", ran_now=False)
    agent = get_agent(found.agent)
    with _gate_for_rerun(ctx, call):
        now = ctx.now()
        with ctx.sessions() as session:
            if not recovery_store.reclaim_tool_call(session, call=call, now=now):
                return ToolCallOutcome(call.call_id, ToolCallStatus.RUNNING, ran_now=False)
        log.warning(
            "run %s call %s: interrupted by a lost worker; %s is idempotent, running it "
            "again (attempt %d of %d)",
            call.run_id,
            call.call_id,
            call.name,
            call.attempts + 1,
            ctx.max_deliveries,
        )
        return _run_and_record(ctx, agent, call, _Lease(now), prior_attempts=call.attempts)


def _gate_for_rerun(ctx: StepContext, call: StoredCall) -> AbstractContextManager[None]:
    """The last attempt before a verdict runs alone in this process: if the worker dies
    then, this call killed it. Earlier ones share it, so a crash that interrupted many calls
    does not make all their re-runs wait for each other (workers.tools.solo_gate)."""
    if call.attempts + 1 < ctx.max_deliveries:
        return ctx.solo.shared()
    # An operator who sees a tools worker stall should find why in its log.
    log.warning(
        "run %s call %s: attempt %d of %d of %s runs alone in this worker (a crash now "
        "fails its run as a poison); waiting for %d running call(s), new ones wait",
        call.run_id,
        call.call_id,
        call.attempts + 1,
        ctx.max_deliveries,
        call.name,
        ctx.solo.running,
    )
    return ctx.solo.alone()


def _fail_poison_run(ctx: StepContext, call: StoredCall) -> ToolCallOutcome:
    """A call that took its worker down every time it started ends its run: running it
    again would only take down the next worker (and the calls of other runs beside it)."""
    alone = ", the last time running alone in it" if ctx.max_deliveries > 1 else ""
    reason = (
        f"step runq.tools.execute ({call.name}) killed its worker {call.attempts} times"
        f"{alone}; not running it again"
    )
    fail_run(ctx, call.run_id, Fail(reason))
    output = json.dumps({"error": {"type": "ToolKilledItsWorker", "message": reason}})
    with ctx.sessions() as session:
        store.finish_tool_call(
            session,
            run_id=call.run_id,
            call_id=call.call_id,
            output=output,
            error=f"poison: {reason}",
            duration_ms=0,
            lease=call.started_at,
        )
    return ToolCallOutcome(call.call_id, ToolCallStatus.FAILED, ran_now=False)


def refuse_tool_call(ctx: StepContext, run_id: str, call_id: str, reason: str) -> ToolCallOutcome:
    """Answer a pending call with an error output without running it (its agent is unknown
    to every worker that took it). A call someone else already claimed is left alone."""
    output = json.dumps({"error": {"type": "UnknownAgent", "message": reason}})
    with ctx.sessions() as session:
        if not store.claim_tool_call(session, run_id=run_id, call_id=call_id, now=ctx.now()):
            return ToolCallOutcome(call_id, ToolCallStatus.RUNNING, ran_now=False)
        recorded = store.finish_tool_call(
            session,
            run_id=run_id,
            call_id=call_id,
            output=output,
            error=f"UnknownAgent: {reason}",
            duration_ms=0,
        )
        turn = session.exec(
            select(ToolCall.turn).where(ToolCall.run_id == run_id, ToolCall.call_id == call_id)
        ).first()
    log.warning("run %s call %s: refused: %s", run_id, call_id, reason)
    done = None if turn is None else _turn_if_done(recorded, turn)
    return ToolCallOutcome(call_id, ToolCallStatus.FAILED, False, done)
