"""Dollar budgets as the run steps see them: hold a turn's worst case before the model
request, settle it to the real cost when the turn ends.

A turn that does not fit ends its run failed with a reason starting "budget:", or waits for
room when the run's key says `on_budget = "wait"`. A model with no price under a budget is
refused too: counting it as free would be a silent overrun.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlmodel import Session

from workers.agents import Agent
from workers.db.models import ApiKey, Run
from workers.lanes import price_multiplier, served_lane
from workers.limits import spend
from workers.limits.spend import BudgetLimits, Price, Scope
from workers.limits.spend_store import RedisSpend
from workers.providers.interface import Usage

log = logging.getLogger("runq.budgets")

ON_BUDGET_WAIT = "wait"
ON_BUDGET_FAIL = "fail"


@dataclass(frozen=True, slots=True)
class OverBudget:
    """The turn does not fit a budget: `reason` for the run, and whether it waits for room."""

    reason: str
    wait: bool = False


class BudgetGuard(Protocol):
    """The seam the steps call around every model request that costs money."""

    def hold(
        self,
        session: Session,
        run: Run,
        agent: Agent,
        hold_id: str,
        prompt_tokens: int,
        *,
        side_model: str | None = None,
    ) -> OverBudget | None:
        """Hold the turn's worst case on every budget, or refuse (None: go). `side_model`:
        a request made for the run beside its turns (a guardrail's), priced at that model,
        inheriting none of the run's context."""
        ...

    def settle(
        self,
        run: Run,
        agent: Agent,
        hold_id: str,
        usage: Usage | None,
        *,
        side_model: str | None = None,
    ) -> None:
        """Swap the hold for what the turn cost (None: unknown, keep the worst case).
        Idempotent: a second settle of one hold charges nothing."""
        ...


class NoBudgets:
    """No spend counted (no Redis): every turn goes."""

    def hold(
        self,
        session: Session,
        run: Run,
        agent: Agent,
        hold_id: str,
        prompt_tokens: int,
        *,
        side_model: str | None = None,
    ) -> OverBudget | None:
        return None

    def settle(
        self,
        run: Run,
        agent: Agent,
        hold_id: str,
        usage: Usage | None,
        *,
        side_model: str | None = None,
    ) -> None:
        return None


def budget_limits(run: Run, key: ApiKey | None, agent: Agent) -> BudgetLimits:
    """Every limit that applies to a run: its own, its key's, its agent's."""
    return BudgetLimits(
        run_usd=run.max_cost_usd,
        key_usd=None if key is None else key.max_usd,
        key_day_usd=None if key is None else key.max_usd_day,
        key_month_usd=None if key is None else key.max_usd_month,
        agent_day_usd=agent.max_usd_per_day,
    )


class SpendGuard:
    """Budgets on the shared Redis counters (`spend.lua`)."""

    def __init__(
        self,
        store: RedisSpend,
        prices: Mapping[str, Price],
        *,
        now_ms: Callable[[], int],
        max_output_tokens: Callable[[Agent], int],
        hold_grace_s: float,
        lane_multipliers: Mapping[str, float] | None = None,
    ) -> None:
        self._store = store
        self._prices = prices
        self._lane_multipliers = lane_multipliers or {}
        self._now_ms = now_ms
        self._max_output_tokens = max_output_tokens
        self._hold_grace_ms = int(hold_grace_s * 1000)

    def hold(
        self,
        session: Session,
        run: Run,
        agent: Agent,
        hold_id: str,
        prompt_tokens: int,
        *,
        side_model: str | None = None,
    ) -> OverBudget | None:
        """Hold the turn's worst case (its new prompt, the context it inherits from the run's
        earlier turns, and the whole output cap, all at full price) on the run's, key's and
        agent's counters in one script run; a run with no price and no limit is not counted."""
        key = session.get(ApiKey, run.owner_key_id) if run.owner_key_id else None
        limits = budget_limits(run, key, agent)
        model = side_model or run.model
        price = self._prices.get(model)
        if price is None:
            if not limits.is_limited:
                return None
            return OverBudget(
                f"budget: model {model!r} has no price in RUNQ_MODEL_PRICES, so a "
                "budgeted run cannot be counted"
            )
        # The provider bills the context a turn inherits (the run's earlier turns) as input
        # too; every earlier input plus every earlier output bounds it from above. A side
        # request (a guardrail's) inherits nothing.
        context_tokens = 0 if side_model else run.input_tokens + run.output_tokens
        worst = spend.hold_micros(
            prompt_tokens + context_tokens, self._max_output_tokens(agent), price
        )
        amount = math.ceil(worst * self._multiplier(run, side_model))
        now_ms = self._now_ms()
        # A hold outlives its run's deadline by a grace, then frees itself: a worker killed
        # between hold and settle never keeps the budget longer than that.
        expires_ms = int(run.deadline_at.timestamp() * 1000) + self._hold_grace_ms
        scopes = self._scopes(run, agent, limits, now_ms)
        refused = self._store.hold(
            hold_id, scopes, amount, now_ms=now_ms, expires_ms=max(expires_ms, now_ms + 1000)
        )
        if refused is None:
            return None
        reason = spend.refusal_reason(
            refused.scope, refused.spent_micros, refused.held_micros, amount
        )
        log.info("run %s: %s", run.id, reason)
        waits = key is not None and key.on_budget == ON_BUDGET_WAIT and refused.scope.label != "run"
        return OverBudget(reason, wait=waits)

    def settle(
        self,
        run: Run,
        agent: Agent,
        hold_id: str,
        usage: Usage | None,
        *,
        side_model: str | None = None,
    ) -> None:
        """Charge what the turn cost in place of its hold, on the same counters."""
        price = self._prices.get(side_model or run.model)
        if price is None:
            return
        multiplier = self._multiplier(run, side_model)
        cost = None if usage is None else math.ceil(spend.usage_micros(usage, price) * multiplier)
        now_ms = self._now_ms()
        # The counters are the ones the hold used (a turn may end the next day); the limits
        # do not matter to a settle.
        held_at_ms = self._store.held_at_ms(hold_id) or now_ms
        scopes = self._scopes(run, agent, BudgetLimits(), held_at_ms)
        if not self._store.settle(hold_id, scopes, cost, now_ms=now_ms):
            log.info("run %s: hold %s was settled before; nothing charged", run.id, hold_id)

    def _multiplier(self, run: Run, side_model: str | None) -> float:
        """The run's turns are billed at its lane's rate (as `outcomes.run_cost_usd` prices
        the run); a side request (a guardrail's) goes at standard."""
        if side_model:
            return 1.0
        lane = served_lane(run.lane, run.lane_fallback)
        return price_multiplier(lane, self._lane_multipliers)

    def _scopes(
        self, run: Run, agent: Agent, limits: BudgetLimits, now_ms: int
    ) -> tuple[Scope, ...]:
        return spend.scopes_for(
            run_id=run.id,
            key_id=run.owner_key_id,
            agent=agent.name,
            now=_utc(now_ms),
            limits=limits,
        )


def _utc(now_ms: int) -> datetime:
    return datetime.fromtimestamp(now_ms / 1000, UTC)
