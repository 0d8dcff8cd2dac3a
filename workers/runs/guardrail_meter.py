"""The meter a run's guardrails make their own model requests under (an Agents SDK guardrail
that runs an agent): the fleet's shared rate limit and the run's dollar budgets, as for the
run's turns. A request that does not fit a budget is not sent, and the run fails with the
budget's reason; one that must wait for the rate limit is not sent either, and the step is
tried again when there is room (never a sleep on a worker thread)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from sqlmodel import Session

from workers.agents import Agent
from workers.db.models import Run
from workers.providers.interface import Usage
from workers.runs.context import StepContext

log = logging.getLogger("runq.guardrails")


@dataclass
class StepMeter:
    """A `workers.guardrails.ModelMeter` for the guardrails of one step of one run."""

    ctx: StepContext
    session: Session
    run: Run
    agent: Agent
    refused: str | None = None
    throttled_s: float = 0.0
    """Set when a request had to wait for the rate limit: the step is tried again after it."""
    _reserved: dict[str, int] = field(default_factory=dict)

    def before(self, model: str, prompt_tokens: int) -> str | None:
        # A hold of its own per request (a step tried again after a throttle asks anew).
        hold = f"{self.run.id}:guardrail:{uuid.uuid4().hex}"
        over = self.ctx.budgets.hold(
            self.session, self.run, self.agent, hold, prompt_tokens, side_model=model
        )
        if over is not None:
            self.refused = over.reason
            return None
        tokens = prompt_tokens + (
            self.agent.max_output_tokens or self.ctx.default_max_output_tokens
        )
        key = self.ctx.api_key_id_for(self.agent)
        wait_s = self.ctx.clearance.wait_s(model=model, api_key_id=key, tokens=tokens)
        if wait_s > 0:
            # No sleep on a worker thread: the request is not sent (its hold released, not
            # charged), and the step goes again once the limit has room.
            self.ctx.budgets.settle(self.run, self.agent, hold, Usage(), side_model=model)
            self.throttled_s = wait_s
            return None
        self._reserved[hold] = tokens
        # The request follows: end the read transaction the hold opened, so its pooled
        # connection does not wait on the model with us (as `steps._call` does).
        self.session.commit()
        return hold

    def after(self, hold: str, model: str, input_tokens: int | None, output_tokens: int) -> None:
        usage = None if input_tokens is None else Usage(input_tokens, output_tokens)
        self.ctx.budgets.settle(self.run, self.agent, hold, usage, side_model=model)
        self.ctx.clearance.settle(
            model=model,
            api_key_id=self.ctx.api_key_id_for(self.agent),
            estimated_tokens=self._reserved.get(hold, 0),
            counted_tokens=None if usage is None else usage.total_tokens,
            headers={},
        )
        log.info("run %s: a guardrail asked %s (%s tokens)", self.run.id, model, usage)
