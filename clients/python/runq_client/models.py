"""The shapes runq answers with (a copy of its public schema: the client imports no runq)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

TERMINAL = frozenset({"completed", "failed", "cancelled", "expired"})
# A call in these waits: for a person's approval, or for you to run it and submit its output.
WAITING = frozenset({"awaiting_approval", "awaiting_output"})


class ToolCall(BaseModel):
    """One tool execution of a run."""

    model_config = ConfigDict(extra="allow")

    call_id: str
    name: str
    arguments: str
    status: str
    output: str | None = None
    error: str | None = None
    duration_ms: int | None = None
    decision: str | None = None
    """approved | rejected, for a call that waited for a person."""
    decision_reason: str | None = None


class Run(BaseModel):
    """A run; fields runq adds later are kept, not refused."""

    model_config = ConfigDict(extra="allow")

    id: str
    agent: str
    status: str
    input: str
    output_text: str | None = None
    structured_output: Any = None
    error: str | None = None
    tool_calls: list[ToolCall] = []
    thread_key: str | None = None
    idempotency_key: str | None = None
    metadata: dict[str, str] = {}
    created_at: datetime
    finished_at: datetime | None = None
    run_at: datetime | None = None
    lane: str = "standard"
    lane_fallback: str | None = None

    @property
    def is_terminal(self) -> bool:
        """The run ended (completed, failed, cancelled or expired)."""
        return self.status in TERMINAL

    @property
    def is_waiting(self) -> bool:
        """The run waits for you (`requires_action`): a person's decision or your outputs."""
        return self.status == "requires_action"

    @property
    def waiting_calls(self) -> list[ToolCall]:
        """The calls a run in `requires_action` waits on: `awaiting_approval` ones for
        `approve_tool_call` / `reject_tool_call`, `awaiting_output` ones for
        `submit_tool_outputs`."""
        return [call for call in self.tool_calls if call.status in WAITING]


class RunPage(BaseModel):
    """One page of runs; pass `next_cursor` to `list(cursor=…)` for the next."""

    data: list[Run]
    next_cursor: str | None = None


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event of a run: its id (for resuming), type and JSON data."""

    id: str
    type: str
    data: Any

    @property
    def is_terminal(self) -> bool:
        """The last event of a run's stream."""
        return self.type in {f"run.{status}" for status in TERMINAL}


class ApiError(Exception):
    """runq answered 4xx/5xx; `message` says what to fix."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message
