"""How a response's (or an Assistants run's) status moves over time: queued -> in_progress ->
terminal. A run turn that ends in tool calls stops at `requires_action` instead, and a run
still unfinished at its `expires_at` is `expired`.

Pure: callers pass `now_s` from whatever clock they hold, so tests move time by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from simulator.script import Failure, Incomplete, ToolCalls, Turn

Status = Literal["queued", "in_progress", "completed", "failed", "incomplete", "cancelled"]
Outcome = Literal["completed", "failed", "incomplete"]
RunStatus = Literal[
    "queued",
    "in_progress",
    "requires_action",
    "cancelling",
    "cancelled",
    "failed",
    "completed",
    "incomplete",
    "expired",
]
ACTIVE_RUN_STATUSES = ("queued", "in_progress", "requires_action", "cancelling")
# What `openai-poll-after-ms` suggests once nothing more is scheduled (the SDK's own default).
IDLE_POLL_MS = 1000

# Real background responses spend a short while queued before a model picks them up; a fixed
# share of the latency makes both non-terminal states visible to a poller.
QUEUED_SHARE = 0.2


@dataclass(frozen=True, slots=True)
class Timeline:
    """When a response leaves `queued` and when it reaches its terminal status (Unix seconds)."""

    created_s: float
    started_s: float
    finished_s: float


def plan_timeline(created_s: float, latency_ms: int, slow_ms: int = 0) -> Timeline:
    """Schedule a background response: `latency_ms` in total, plus `#slow=MS` in progress."""
    latency_s = latency_ms / 1000
    return Timeline(
        created_s=created_s,
        started_s=created_s + latency_s * QUEUED_SHARE,
        finished_s=created_s + latency_s + slow_ms / 1000,
    )


def instant_timeline(now_s: float, took_ms: int = 0) -> Timeline:
    """A synchronous response: terminal by the time the create call answers at `now_s`,
    having been created `took_ms` earlier."""
    created_s = now_s - took_ms / 1000
    return Timeline(created_s=created_s, started_s=created_s, finished_s=now_s)


def outcome_of(turn: Turn) -> Outcome:
    """The terminal status a turn ends in; a turn that ends in tool calls still `completed`."""
    if isinstance(turn, Failure):
        return "failed"
    if isinstance(turn, Incomplete):
        return "incomplete"
    return "completed"


def status_at(timeline: Timeline, outcome: Outcome, *, is_cancelled: bool, now_s: float) -> Status:
    """The status a poll at `now_s` sees."""
    if is_cancelled:
        return "cancelled"
    if now_s < timeline.started_s:
        return "queued"
    if now_s < timeline.finished_s:
        return "in_progress"
    return outcome


def is_terminal(status: Status) -> bool:
    """True once the status can no longer change."""
    return status not in ("queued", "in_progress")


def run_status_at(timeline: Timeline, turn: Turn, *, expires_s: float, now_s: float) -> RunStatus:
    """The status a poll at `now_s` sees for the current turn of an Assistants run."""
    status: RunStatus = status_at(timeline, outcome_of(turn), is_cancelled=False, now_s=now_s)
    if status == "completed" and isinstance(turn, ToolCalls):
        status = "requires_action"
    if status in ("queued", "in_progress", "requires_action") and now_s >= expires_s:
        return "expired"
    return status


def is_run_active(status: RunStatus) -> bool:
    """True while the run holds its thread (new messages and runs are refused)."""
    return status in ACTIVE_RUN_STATUSES


def poll_after_ms(timeline: Timeline, now_s: float) -> int:
    """How long a poller should wait before the next scheduled status change (at least 1 ms)."""
    for change_s in (timeline.started_s, timeline.finished_s):
        if now_s < change_s:
            return max(1, round((change_s - now_s) * 1000))
    return IDLE_POLL_MS
