"""What a run step needs from the outside world, and what it asks to happen next.

Steps (in `steps`, `tools.execute`, `sweep`) never import Celery: they return a `Next`
value and the task layer turns it into a message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlmodel import Session

from workers.agents import Agent
from workers.db.statuses import RunStatus
from workers.limits.clearance import Clearance
from workers.providers.interface import Provider
from workers.runs.budget_guard import BudgetGuard, NoBudgets
from workers.runs.state import RunPolicy
from workers.runs.usage import Price
from workers.tools.breaker_store import ToolBreakers
from workers.tools.registry import ToolRegistry
from workers.tools.solo_gate import SoloGate


class StepName(StrEnum):
    """Stable Celery task names for the run steps (renaming a module never strands them)."""

    START = "runq.runs.start"
    POLL = "runq.runs.poll"
    SUBMIT = "runq.runs.submit"


@dataclass(frozen=True, slots=True)
class Later:
    """Run `task` with `args` after `after_s` seconds."""

    task: StepName
    args: tuple[str | int, ...]
    after_s: float = 0.0
    due_recorded: bool = field(default=False, compare=False)
    """The step's own transition already recorded when this message is due (`parked`:
    that the sweep sends it), so the task layer need not write it again."""
    parked: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class FanOut:
    """Execute these tool calls in parallel, then submit turn `turn` of the run."""

    run_id: str
    turn: int
    call_ids: tuple[str, ...]
    due_recorded: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class Nothing:
    """No further message: the run ended, or this message was a stale duplicate."""

    reason: str
    ended: RunStatus | None = None
    """Set when this step ended the run failed, expired or cancelled (the task then shows
    as FAILURE in Flower, with `reason`)."""


Next = Later | FanOut | Nothing


class TurnTimes(Protocol):
    """How long recent model turns took, per model, shared by every worker (advisory: a
    failure to read or write it costs extra polls, never a run)."""

    def recent(self, model: str) -> tuple[float, ...]:
        """Durations (seconds) of the model's latest turns, newest first; () if unknown."""
        ...

    def record(self, model: str, duration_s: float) -> None:
        """Remember that a turn of `model` took `duration_s`."""
        ...


class NoTurnTimes:
    """No shared history: every turn is polled on the fixed ladder."""

    def recent(self, model: str) -> tuple[float, ...]:
        return ()

    def record(self, model: str, duration_s: float) -> None:
        return None


class AnswerCache(Protocol):
    """Where finished answers are kept for identical requests (Redis in production)."""

    def get(self, cache_key: str) -> dict[str, Any] | None:
        """The cached answer, or None (a cache failure is a miss)."""
        ...

    def put(self, cache_key: str, value: Mapping[str, Any], ttl_s: int | None = None) -> None:
        """Keep `value`; a cache failure is ignored."""
        ...


@dataclass(frozen=True)
class StepContext:
    """Per-process resources and settings for the steps, built once in `workers.wiring`."""

    sessions: Callable[[], Session]
    provider_for: Callable[[Agent], Provider]
    api_key_id_for: Callable[[Agent], str]
    tools: ToolRegistry
    policy: RunPolicy
    clearance: Clearance
    now: Callable[[], datetime]
    default_max_output_tokens: int
    tool_grace_s: float
    tool_retries: int
    cache: AnswerCache | None = None
    base_url: str = ""
    prices: Mapping[str, Price] = field(default_factory=dict)
    lane_price_multipliers: Mapping[str, float] = field(default_factory=dict)
    """RUNQ_LANE_PRICE_MULTIPLIERS: each lane's price relative to standard (workers.lanes)."""
    breakers: ToolBreakers | None = None
    max_deliveries: int = 3
    """Executions an idempotent call may start before its run fails as a poison run."""
    solo: SoloGate = field(default_factory=SoloGate)
    """This process's gate: a call's last attempt before a poison verdict runs alone, so a
    crash during it is that call's (workers.tools.solo_gate)."""
    webhook_poll_first_s: float = 30.0
    """First poll of a turn for agents whose provider sends webhooks (the fallback)."""
    turn_times: TurnTimes = field(default_factory=NoTurnTimes)
    lease_s: float = 0.0
    """While a provider call is in flight its run stays due this far ahead, renewed every
    half of it by a heartbeat (0: set once, no heartbeat). A dead worker stops renewing, so
    the sweep finds its run one lease plus the grace after the last beat."""
    sweep_grace_s: float = 0.0
    """How late a run's next step may be before the sweep re-sends it: a poll whose run is
    due far enough ahead needs no lease write before its request (the first heartbeat
    comes before the sweep could look)."""
    max_countdown_s: float | None = None
    """The longest broker countdown; a longer wait is parked for the sweep to send."""
    budgets: BudgetGuard = field(default_factory=NoBudgets)
    """Dollar budgets: every model request holds its worst case first, settled after."""
    budget_wait_s: float = 10.0
    """How long a run whose key waits for budget room sleeps before it asks again."""
    provider_within: Callable[[Agent, float], Provider] | None = None
    """The agent's provider with its request timeout capped at the given seconds (what is
    left of the run's deadline); None: `provider_for` as is."""
