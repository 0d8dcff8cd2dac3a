"""Executing one tool call, at most once.

A call is claimed (pending -> running) in the database before the tool runs, so a
redelivered or duplicated message never runs it again: it returns the stored output. A call
found `running` long past its timeout was interrupted by a lost worker; it is answered with
an error output rather than re-run, because running a side-effecting tool twice is worse
than telling the model it failed. Tools marked `retryable` (idempotent) get a few more
tries inside the claimed execution; a tool whose circuit breaker is open answers
"unavailable" at once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from workers.agents import Agent, get_agent
from workers.db import store
from workers.db.models import ToolCall
from workers.db.statuses import FINISHED_TOOL_STATUSES, RunStatus, ToolCallStatus, is_terminal
from workers.runs.context import StepContext
from workers.tools.invoke import ToolResult, invoke_tool

log = logging.getLogger("runq.tools")

INTERRUPTED_OUTPUT = json.dumps(
    {
        "error": {
            "type": "ToolInterrupted",
            "message": "the worker running this tool was lost; it was not re-run to avoid "
            "running it twice",
        }
    }
)


@dataclass(frozen=True, slots=True)
class ToolCallOutcome:
    """What `execute_tool_call` did: ran it now, found it done, or found it in flight."""

    call_id: str
    status: str
    ran_now: bool

    def as_json(self) -> dict[str, str | bool]:
        """Small JSON-able summary (the chord's result; the output itself stays in the DB)."""
        return {"call_id": self.call_id, "status": self.status, "ran_now": self.ran_now}


def execute_tool_call(ctx: StepContext, run_id: str, call_id: str) -> ToolCallOutcome:
    """Run the call once and store its output. Idempotent per (run_id, call_id)."""
    with ctx.sessions() as session:
        call = store.get_tool_call(session, run_id=run_id, call_id=call_id)
        if call is None:
            log.error("run %s call %s: no such tool call recorded", run_id, call_id)
            return ToolCallOutcome(call_id, "missing", ran_now=False)
        if call.status in FINISHED_TOOL_STATUSES:
            return ToolCallOutcome(call_id, call.status, ran_now=False)
        if call.status == ToolCallStatus.RUNNING:
            return _settle_interrupted(ctx, run_id, call_id)
        run = store.get_run(session, run_id=run_id)
        if is_terminal(RunStatus(run.status)):
            return ToolCallOutcome(call_id, "skipped", ran_now=False)  # cancelled or expired
        if not store.claim_tool_call(session, run_id=run_id, call_id=call_id, now=ctx.now()):
            return ToolCallOutcome(call_id, ToolCallStatus.RUNNING, ran_now=False)
        result, attempts = _run_tool(ctx, get_agent(run.agent), call)
        store.finish_tool_call(
            session,
            run_id=run_id,
            call_id=call_id,
            output=result.output,
            error=result.error,
            duration_ms=result.duration_ms,
            attempts=attempts,
        )
        if result.is_error:
            log.warning("run %s call %s (%s): %s", run_id, call_id, call.name, result.error)
        return ToolCallOutcome(call_id, _finished_status(result), ran_now=True)


def _run_tool(ctx: StepContext, agent: Agent, call: ToolCall) -> tuple[ToolResult, int]:
    """Invoke the tool, with retries for retryable tools and the breaker's verdict."""
    now_ms = int(ctx.now().timestamp() * 1000)
    known = call.name in ctx.tools and call.name in agent.tools
    if known and ctx.breakers is not None and not ctx.breakers.allow(call.name, now_ms):
        return _unavailable(call.name), 1
    tries = 1 + (ctx.tool_retries if known and ctx.tools.get(call.name).retryable else 0)
    for attempt in range(1, tries + 1):
        result = invoke_tool(ctx.tools, call.name, call.arguments, allowed_names=agent.tools)
        if not result.is_tool_fault or attempt == tries:
            break
        log.info(
            "run %s call %s: retrying %s (attempt %d)",
            call.run_id,
            call.call_id,
            call.name,
            attempt + 1,
        )
    if known and ctx.breakers is not None:
        ctx.breakers.record(call.name, not result.is_tool_fault, now_ms)
    return result, attempt


def _finished_status(result: ToolResult) -> ToolCallStatus:
    return ToolCallStatus.FAILED if result.is_error else ToolCallStatus.SUCCEEDED


def _unavailable(name: str) -> ToolResult:
    message = f"tool {name!r} is unavailable after repeated failures; try again later"
    output = json.dumps({"error": {"type": "ToolUnavailable", "message": message}})
    return ToolResult(output, True, f"ToolUnavailable: {message}", 0, "ToolUnavailable")


def _settle_interrupted(ctx: StepContext, run_id: str, call_id: str) -> ToolCallOutcome:
    with ctx.sessions() as session:
        call = store.get_tool_call(session, run_id=run_id, call_id=call_id)
        if call is None or call.started_at is None:
            return ToolCallOutcome(call_id, "missing", ran_now=False)
        timeout_s = ctx.tools.get(call.name).timeout_s if call.name in ctx.tools else 0.0
        given_up_at = call.started_at + timedelta(seconds=timeout_s + ctx.tool_grace_s)
        if ctx.now() < given_up_at:
            return ToolCallOutcome(call_id, ToolCallStatus.RUNNING, ran_now=False)
        log.warning("run %s call %s: interrupted by a lost worker; not re-run", run_id, call_id)
        store.finish_tool_call(
            session,
            run_id=run_id,
            call_id=call_id,
            output=INTERRUPTED_OUTPUT,
            error="interrupted: worker lost while the tool was running",
            duration_ms=0,
        )
        return ToolCallOutcome(call_id, ToolCallStatus.FAILED, ran_now=False)
