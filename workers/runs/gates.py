"""Which tool calls of a turn wait, and for whom; what a wait's end means. Pure.

A turn's call runs on a worker at once, waits for a person's approval (the tool or the
agent asks for it), or waits for the caller, who runs the tool and submits its output (a
tool declared with `caller_tool`, or one the run's creator supplied). A turn with any
waiting call waits as a whole: its calls run, and its outputs go back to the model, only
when every waiting call is decided or answered. That keeps one rule for a turn (all its
outputs go back together) and never runs a call of a turn a person may still stop.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from workers.agents import Agent
from workers.db.statuses import ToolCallStatus
from workers.providers.interface import ToolCallRequest
from workers.tools.registry import ToolRegistry


def waiting_calls(
    calls: Sequence[ToolCallRequest],
    agent: Agent,
    tools: ToolRegistry,
    caller_tools: Collection[str] = (),
) -> dict[str, ToolCallStatus]:
    """The calls that wait, by call id: `awaiting_output` for the caller's tools,
    `awaiting_approval` for those a person approves first. The others run now."""
    waiting: dict[str, ToolCallStatus] = {}
    for call in calls:
        spec = tools.get(call.name) if call.name in tools else None
        if call.name in caller_tools or (spec is not None and spec.caller_executed):
            waiting[call.call_id] = ToolCallStatus.AWAITING_OUTPUT
        elif call.name in agent.approve_tools or (
            spec is not None and call.name in agent.tools and spec.approval_needed(call.arguments)
        ):
            waiting[call.call_id] = ToolCallStatus.AWAITING_APPROVAL
    return waiting


def wait_ends_at(now: datetime, deadline_at: datetime, timeout_s: float | None) -> datetime:
    """When a turn stops waiting: its agent's action timeout, never past the run's deadline."""
    if timeout_s is None:
        return deadline_at
    return min(deadline_at, now + timedelta(seconds=timeout_s))


def rejected_output(reason: str) -> str:
    """What the model is told of a call a person rejected (or nobody approved in time): an
    error output, so the history never holds a call without its answer."""
    message = f"a person rejected this tool call: {reason}" if reason else "rejected"
    return json.dumps({"error": {"type": "ToolCallRejected", "message": message}})


def timed_out_output(waited_for: ToolCallStatus, waited_s: float) -> str:
    """The error output of a call whose approval or caller output never came."""
    whose = "approval" if waited_for is ToolCallStatus.AWAITING_APPROVAL else "output"
    message = f"no {whose} came within {waited_s:g}s; the call was not run"
    return json.dumps({"error": {"type": "ToolCallTimedOut", "message": message}})


@dataclass(frozen=True, slots=True)
class OutputsProblem:
    """Why submitted outputs were refused."""

    message: str
    unknown: bool = False
    """A call id the run never had (404), rather than a wrong set of ids (422)."""


def check_outputs(
    awaiting: Collection[str], known: Collection[str], given: Sequence[str]
) -> OutputsProblem | None:
    """Outputs must answer exactly the calls awaiting them, each once, in one request.

    `awaiting`: call ids of the current turn waiting for the caller's output; `known`:
    every call id the run has; `given`: the call ids submitted, in order."""
    duplicates = sorted({c for c in given if given.count(c) > 1})
    if duplicates:
        return OutputsProblem(f"tool_call_id given twice: {', '.join(duplicates)}")
    unknown = sorted(set(given) - set(known))
    if unknown:
        return OutputsProblem(f"the run has no tool call {', '.join(unknown)}", unknown=True)
    not_waiting = sorted(set(given) - set(awaiting))
    if not_waiting:
        return OutputsProblem(
            f"tool calls not waiting for an output: {', '.join(not_waiting)} (already "
            "answered, or runq runs them)"
        )
    missing = sorted(set(awaiting) - set(given))
    if missing:
        return OutputsProblem(
            f"outputs missing for {', '.join(missing)}: submit every waiting call's output "
            "in one request"
        )
    return None


def needs_of(waiting: Mapping[str, ToolCallStatus]) -> list[str]:
    """What a waiting turn asks for, for its event: `approval`, `output`, or both."""
    needs = []
    if ToolCallStatus.AWAITING_APPROVAL in waiting.values():
        needs.append("approval")
    if ToolCallStatus.AWAITING_OUTPUT in waiting.values():
        needs.append("output")
    return needs
