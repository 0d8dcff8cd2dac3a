"""Everything the simulator remembers between requests, behind one lock."""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulator.assistant_state import AssistantState
from simulator.batch_state import BatchState
from simulator.config import SimulatorConfig
from simulator.faults import FaultInjector, RateLimiter
from simulator.items import Item
from simulator.lifecycle import Timeline
from simulator.script import Turn


@dataclass(slots=True)
class ResponseRecord:
    """A created response: what was asked, what the script decided, and when it becomes visible."""

    id: str
    model: str
    background: bool
    store: bool
    instructions: str | None
    max_output_tokens: int | None
    metadata: dict[str, str]
    parallel_tool_calls: bool
    tool_choice: Any
    tools: list[dict[str, Any]]
    temperature: float
    top_p: float
    text: dict[str, Any]
    truncation: str
    previous_response_id: str | None
    conversation_id: str | None
    input_items: list[Item]
    """This request's own input, as listed by GET .../input_items."""
    context: list[Item]
    """Everything the model saw: inherited items, then `input_items`."""
    turn: Turn
    output: list[Item]
    usage: dict[str, Any]
    timeline: Timeline
    is_cancelled: bool = False
    service_tier: str = "default"
    prompt_cache_key: str | None = None


@dataclass(slots=True)
class ConversationRecord:
    """A conversation and its items, oldest first."""

    id: str
    created_at: int
    metadata: dict[str, str]
    items: list[Item] = field(default_factory=list)


@dataclass(slots=True)
class Stats:
    """Counters served by GET /_sim/stats; the demo and the benchmark read them."""

    requests_total: int = 0
    responses_created: int = 0
    responses_retrieved: int = 0
    responses_cancelled: int = 0
    responses_deleted: int = 0
    input_items_listed: int = 0
    input_tokens_counted: int = 0
    tool_outputs_submitted: int = 0
    """function_call_output items received, in responses and in conversation items."""
    function_calls_emitted: int = 0
    """function_call items in responses that reached a terminal status."""
    conversations_created: int = 0
    chat_completions: int = 0
    """Chat completions answered (a scripted #fail is an HTTP 500, not a completion)."""
    assistant_runs_created: int = 0
    assistant_runs_retrieved: int = 0
    assistant_tool_outputs_submitted: int = 0
    """Tool outputs accepted by submit_tool_outputs on Assistants runs."""
    webhooks_sent: int = 0
    """Signed response.* webhooks posted to the configured webhook_url."""
    http_429: int = 0
    batches_created: int = 0
    flex_unavailable: int = 0
    """Flex creates refused 429 resource_unavailable (flex_unavailable_rate)."""
    prompt_cache_hits: int = 0
    """Creates whose prefix (instructions + tools) came from the prompt cache."""
    http_5xx: int = 0
    tokens_charged: int = 0
    """Tokens the TPM limiter charged up front (estimated input + max_output_tokens or 256)."""
    requests_by_key: dict[str, int] = field(default_factory=dict)
    rate_limited_by_model: dict[str, int] = field(default_factory=dict)
    """429s for RPM/TPM, per model (quota 429s are not rate limits and are not counted)."""

    def as_json(self) -> dict[str, Any]:
        """A plain dict for the JSON reply."""
        return dataclasses.asdict(self)


@dataclass(slots=True)
class SimulatorState:
    """The in-memory world of one simulator app. Hold `lock` while reading or changing it."""

    config: SimulatorConfig
    clock: Callable[[], float]
    lock: threading.Lock = field(default_factory=threading.Lock)
    responses: dict[str, ResponseRecord] = field(default_factory=dict)
    conversations: dict[str, ConversationRecord] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)
    """Responses whose terminal effects (stats, conversation items) are not applied yet."""
    assistants: AssistantState = field(default_factory=AssistantState)
    stats: Stats = field(default_factory=Stats)
    batch_state: BatchState = field(default_factory=BatchState)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    faults: FaultInjector = field(init=False)
    latency_rng: random.Random = field(init=False)
    tier_rng: random.Random = field(init=False)
    """Draws which flex requests find no capacity (seeded)."""
    prompt_cache: set[tuple[str, str]] = field(default_factory=set)
    """(prompt_cache_key, prefix digest) pairs seen: the next such request hits the cache."""

    def __post_init__(self) -> None:
        self.faults = FaultInjector(self.config.seed)
        self.latency_rng = random.Random(self.config.seed)
        self.tier_rng = random.Random(self.config.seed)

    def draw_latency_ms(self) -> int:
        """One model turn's latency: `latency_ms` spread by `latency_jitter` (seeded)."""
        jitter = self.config.latency_jitter
        factor = 1.0 + jitter * (2 * self.latency_rng.random() - 1) if jitter else 1.0
        return round(self.config.latency_ms * factor)

    def reset(self) -> None:
        """Forget every object, counter and bucket, and replay faults from the seed."""
        self.responses.clear()
        self.conversations.clear()
        self.pending.clear()
        self.assistants.clear()
        self.batch_state.clear()
        self.stats = Stats()
        self.limiter.clear()
        self.faults.reseed(self.config.seed)
        self.latency_rng.seed(self.config.seed)
        self.tier_rng.seed(self.config.seed)
        self.prompt_cache.clear()

    def retune(self, config: SimulatorConfig) -> None:
        """Switch to a new config; a new seed restarts the fault sequence."""
        if config.seed != self.config.seed:
            self.faults.reseed(config.seed)
            self.latency_rng.seed(config.seed)
            self.tier_rng.seed(config.seed)
        self.config = config
