"""What every provider adapter promises, in provider-neutral values.

Adapters translate one provider surface (Responses, Assistants, Chat Completions) into
`ProviderState`; everything above them sees only these types and `workers.errors`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class ProviderStatus(StrEnum):
    """Where the provider says one model turn is."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    REQUIRES_TOOLS = "requires_tools"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INCOMPLETE = "incomplete"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class ToolCallRequest:
    """One function call the model asked for; `arguments` is the raw JSON string it sent."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """The string answer to one tool call, as it goes back to the model."""

    call_id: str
    output: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one model turn consumed."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class ProviderState:
    """A normalized snapshot of one model turn at the provider."""

    status: ProviderStatus
    ref: str
    tool_calls: tuple[ToolCallRequest, ...] = ()
    output_text: str | None = None
    usage: Usage | None = None
    error: str | None = None
    poll_after_s: float | None = None
    duration_s: float | None = None
    """How long a finished turn took at the provider (its completed_at - created_at), if known."""
    rate_limit_headers: Mapping[str, str] = field(default_factory=dict)
    hosted_items: tuple[Mapping[str, Any], ...] = ()
    """Output items of provider-run tools (web_search_call, file_search_call, ...)."""
    awaits_wake: bool = False
    """The turn waits for something that wakes its run (a batch-lane turn: the batch's
    answer): no poll ladder, the next poll is due only at the deadline."""


@dataclass(frozen=True, slots=True)
class ToolTurn:
    """One finished tool round trip of this run: the calls the model made and our outputs."""

    calls: tuple[ToolCallRequest, ...]
    outputs: tuple[ToolOutput, ...]


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """Everything a provider needs to start or continue a run, minus credentials.

    `tools` are provider-neutral function schemas: {"name", "description", "parameters",
    "strict"}; each adapter renders its own shape. `history` holds this run's tool round
    trips so far, oldest first, including the one being submitted: stateless surfaces (Chat
    Completions) replay it; stateful ones (Responses, Assistants) ignore it.
    """

    run_id: str
    model: str
    instructions: str | None
    input_text: str
    tools: tuple[Mapping[str, Any], ...] = ()
    max_output_tokens: int | None = None
    temperature: float | None = None
    conversation_ref: str | None = None
    """The thread at the provider: a conversation id (Responses) or thread id (Assistants)."""
    previous_ref: str | None = None
    """Chain mode: the thread's last response id, to continue from on create."""
    history: tuple[ToolTurn, ...] = ()
    prior_messages: tuple[Mapping[str, Any], ...] = ()
    """Chat provider: the thread's earlier messages, oldest first, already trimmed."""
    output_schema: Mapping[str, Any] | None = None
    output_schema_name: str = "answer"
    json_mode: bool = False
    hosted_tools: tuple[Mapping[str, Any], ...] = ()
    background: bool = True
    """False: the turn is one synchronous request (Agent.sync_turns; Responses only)."""
    service_tier: str | None = None
    """The Responses `service_tier` of the run's lane ("priority", "flex"); None: default."""
    prompt_cache_key: str | None = None
    """Routes a thread's turns to the same prompt cache (Responses): the thread or run id."""


class Provider(Protocol):
    """A model provider surface. Every method may raise `workers.errors.ProviderError`."""

    def create(self, request: TurnRequest) -> ProviderState:
        """Start a run (background where the surface has it) and return its first state."""
        ...

    def retrieve(self, ref: str) -> ProviderState:
        """Read the current state of the turn `ref`."""
        ...

    def submit_tool_outputs(
        self, ref: str, outputs: Sequence[ToolOutput], request: TurnRequest
    ) -> ProviderState:
        """Send all tool outputs for turn `ref` in one request; return the next turn's state."""
        ...

    def cancel(self, ref: str) -> ProviderState:
        """Ask the provider to stop the turn `ref`; best effort."""
        ...

    def send_correction(
        self, ref: str, answer: str, message: str, request: TurnRequest
    ) -> ProviderState:
        """After turn `ref` ended with `answer`, send the user `message` (e.g. "that did not
        match the schema") as a new turn of the same conversation."""
        ...

    def open_thread(self) -> str | None:
        """Create a server-side thread (conversation) and return its id; None if the surface
        keeps no threads (Chat Completions: runq replays the history itself)."""
        ...
