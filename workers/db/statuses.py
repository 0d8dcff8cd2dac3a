"""The statuses a run and a tool call can be in, as the database stores them."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """Where a run is, in runq's own terms (not the provider's)."""

    PENDING = "pending"  # enqueued, not yet created at the provider
    IN_PROGRESS = "in_progress"  # a model turn is running at the provider; we poll it
    REQUIRES_TOOLS = "requires_tools"  # tool calls are being executed
    # The turn's tool calls wait for a person's approval or for the caller's outputs; no
    # worker, message or provider connection is held while it waits.
    REQUIRES_ACTION = "requires_action"
    SUBMITTING = "submitting"  # tool outputs are being sent back
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


TERMINAL_STATUSES = frozenset(
    {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.EXPIRED}
)


def is_terminal(status: RunStatus) -> bool:
    """Terminal runs never change again."""
    return status in TERMINAL_STATUSES


class ToolCallStatus(StrEnum):
    """Where one tool call is: claimed before it runs, finished exactly once."""

    PENDING = "pending"  # recorded from the model's turn, not yet claimed
    RUNNING = "running"  # claimed by a worker (which may have died: see tools.execute)
    AWAITING_APPROVAL = "awaiting_approval"  # runs (becomes pending) once a person approves
    AWAITING_OUTPUT = "awaiting_output"  # the caller runs it and submits its output
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # ended with an error output for the model


FINISHED_TOOL_STATUSES = frozenset({ToolCallStatus.SUCCEEDED, ToolCallStatus.FAILED})
WAITING_TOOL_STATUSES = frozenset(
    {ToolCallStatus.AWAITING_APPROVAL, ToolCallStatus.AWAITING_OUTPUT}
)

# The run events a status change is told as (the store announces them after its commit).
TERMINAL_EVENT_TYPES = frozenset({"run.completed", "run.failed", "run.cancelled", "run.expired"})


def event_type_for_status(status: str) -> str:
    """`run.completed` for a terminal status, `run.status` for the others."""
    name = f"run.{status}"
    return name if name in TERMINAL_EVENT_TYPES else "run.status"
