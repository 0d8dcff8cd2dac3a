"""What the Assistants surface remembers: assistants, threads with their messages, and runs.

Assistants and messages never change once written, so they are kept as the wire JSON; threads
and runs change, so they are records that `assistant_render` turns into JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator.errors import not_found
from simulator.items import Item
from simulator.lifecycle import RunStatus, Timeline
from simulator.schema_answer import AnswerFormat
from simulator.script import Turn

# Limits are per (key, model); assistant, thread and message calls name no model, so they
# share one bucket.
LIMIT_BUCKET = "assistants"
# OpenAI gives a run ten minutes to finish, tool round trips included.
RUN_TTL_S = 600


@dataclass(slots=True)
class ThreadRecord:
    """A thread: its messages (wire JSON, oldest first) and its runs (ids, oldest first)."""

    id: str
    created_at: int
    metadata: dict[str, str]
    tool_resources: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RunSettings:
    """What a run was asked to do: the assistant's settings with the request's overrides."""

    model: str
    instructions: str
    tools: list[dict[str, Any]]
    tool_choice: Any
    parallel_tool_calls: bool
    response_format: Any
    """As echoed on the wire ("auto" or the Chat-shaped format object)."""
    answer_format: AnswerFormat
    metadata: dict[str, str]
    temperature: float | None
    top_p: float | None
    max_prompt_tokens: int | None
    max_completion_tokens: int | None
    truncation_strategy: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Phase:
    """One model turn of a run: from `queued` (on create or after tool outputs) to its outcome."""

    timeline: Timeline
    turn: Turn
    prompt_tokens: int
    completion_tokens: int


@dataclass(slots=True)
class RunRecord:
    """A run and everything that has happened to it so far."""

    id: str
    thread_id: str
    assistant_id: str
    created_at: int
    settings: RunSettings
    phase: Phase
    status: RunStatus = "queued"
    rounds: list[Item] = field(default_factory=list)
    """Tool calls and their outputs, as items the script reads after the thread's messages."""
    started_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    completed_at: int | None = None
    required_action: dict[str, Any] | None = None
    last_error: dict[str, Any] | None = None
    incomplete_details: dict[str, Any] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    steps: list[dict[str, Any]] = field(default_factory=list)
    """Run steps as wire JSON, oldest first."""

    @property
    def expires_at(self) -> int:
        """The deadline for the whole run, tool round trips included."""
        return self.created_at + RUN_TTL_S


@dataclass(slots=True)
class AssistantState:
    """Every assistant, thread and run, by id."""

    assistants: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: dict[str, ThreadRecord] = field(default_factory=dict)
    runs: dict[str, RunRecord] = field(default_factory=dict)

    def clear(self) -> None:
        """Forget everything."""
        self.assistants.clear()
        self.threads.clear()
        self.runs.clear()

    def find_assistant(self, assistant_id: str) -> dict[str, Any]:
        """A stored assistant, or 404."""
        assistant = self.assistants.get(assistant_id)
        if assistant is None:
            raise not_found(f"No assistant found with id '{assistant_id}'.")
        return assistant

    def find_thread(self, thread_id: str) -> ThreadRecord:
        """A stored thread, or 404."""
        thread = self.threads.get(thread_id)
        if thread is None:
            raise not_found(f"No thread found with id '{thread_id}'.")
        return thread

    def find_run(self, thread_id: str, run_id: str) -> RunRecord:
        """A run of this thread, or 404."""
        self.find_thread(thread_id)
        run = self.runs.get(run_id)
        if run is None or run.thread_id != thread_id:
            raise not_found(f"No run found with id '{run_id}'.")
        return run
