"""Recovery: which step to re-send for a run whose next step is overdue, and when it is next
due. Pure: the sweep (`sweep.py`) loads the runs, calls `recover`, and acts on the answer.

A run is overdue when the message that should have moved it on did not do its work in time:
its worker died mid-step, Redis lost the message, or a turn's last tool call never sent its
submit. Every step is a compare-and-set, so re-sending one that is merely late costs a
dropped duplicate, never a double transition. Re-sending the same step over and over is
bounded: a step that kills its worker every time (a poison run) ends the run with that reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from workers.db.statuses import RunStatus

START, POLL, SUBMIT, EXECUTE_TOOLS = "start", "poll", "submit", "execute_tools"
WAIT_OVER = "wait_over"
"""A turn that waits for approvals or caller outputs reached the end of its wait."""


@dataclass(frozen=True, slots=True)
class OverdueRun:
    """What the sweep knows about one overdue run."""

    status: RunStatus
    step_seq: int
    turn: int
    deadline_at: datetime
    recoveries: int
    unfinished_tools: tuple[tuple[str, str], ...] = ()
    """(call id, tool name) of the current turn's calls that have no output yet."""
    created: bool = True
    """Whether the run's first turn exists at the provider (a claimed start may not)."""
    parked: bool = False
    """The step waits in the database, not the broker: due now, not late (no re-send)."""


@dataclass(frozen=True, slots=True)
class Resend:
    """Send `step` again; a `submitting` run is first handed back to `requires_tools`."""

    step: str
    """start | poll | submit | execute_tools | wait_over"""
    call_ids: tuple[str, ...] = ()
    release_submit: bool = False


@dataclass(frozen=True, slots=True)
class GiveUp:
    """End the run in `status` for `reason`."""

    reason: str
    status: RunStatus = RunStatus.FAILED


Recovery = Resend | GiveUp


def recover(run: OverdueRun, now: datetime, max_recoveries: int) -> Recovery:
    """The step that puts `run` back in motion, or why it must end instead."""
    if now >= run.deadline_at:
        return GiveUp("run passed its deadline", RunStatus.EXPIRED)
    step = _step_of(run)
    if run.recoveries >= max_recoveries and not run.parked:
        return GiveUp(
            f"step {_describe(step, run)} was re-sent {run.recoveries} times and never "
            "finished: it kills its worker (or loses its message) every time"
        )
    return step


def next_due_in_s(step: Resend, recoveries: int, grace_s: float, tool_wait_s: float) -> float:
    """How long after a re-send the run is overdue again: the grace doubles with each
    re-send, so a fleet slowed by a backlog is not mistaken for a poison run; re-sent tool
    calls also get the time they may take."""
    wait_s = grace_s * float(2**recoveries)
    if step.step == EXECUTE_TOOLS:
        wait_s += tool_wait_s
    return wait_s


def tool_wait_s(timeouts_s: Sequence[float], tool_grace_s: float) -> float:
    """How long a turn's tool calls with these timeouts may take before the run is overdue."""
    return max(timeouts_s, default=0.0) + tool_grace_s


def _step_of(run: OverdueRun) -> Resend:
    if run.status is RunStatus.REQUIRES_ACTION:
        return Resend(WAIT_OVER)
    if run.status is RunStatus.PENDING or (run.status is RunStatus.IN_PROGRESS and not run.created):
        return Resend(START)
    if run.status is RunStatus.IN_PROGRESS:
        return Resend(POLL)
    # requires_tools or submitting: finish the turn's tools, or submit their outputs again.
    # A submit cut off mid-call may cost one duplicate model turn, never a duplicate tool run.
    release = run.status is RunStatus.SUBMITTING
    calls = tuple(call_id for call_id, _ in run.unfinished_tools)
    if calls:
        return Resend(EXECUTE_TOOLS, calls, release_submit=release)
    return Resend(SUBMIT, release_submit=release)


def _describe(step: Resend, run: OverdueRun) -> str:
    if step.step == EXECUTE_TOOLS:
        names = ", ".join(sorted({name for _, name in run.unfinished_tools}))
        return f"execute_tools ({names})"
    return step.step
