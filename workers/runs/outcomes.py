"""How a run ends: completed (checked, priced, cached, threaded), failed/expired, or
cancelled on request. Terminal states never change again."""

from __future__ import annotations

import json
import logging

from sqlmodel import Session

from workers.agents import Agent, find_agent
from workers.db import store
from workers.db.changes import RunChanges
from workers.db.models import Run
from workers.db.statuses import RunStatus, is_terminal
from workers.errors import ProviderError
from workers.lanes import price_multiplier, served_lane
from workers.providers.interface import ProviderState, Usage
from workers.providers.metered import MeteredProvider
from workers.runs import ledger
from workers.runs.answers import remember_answer
from workers.runs.batch_lane import BatchLaneProvider, is_batch_turn
from workers.runs.context import StepContext
from workers.runs.ledger import NO_CHANGES
from workers.runs.state import Fail, Finish
from workers.runs.threads import note_thread_turn
from workers.runs.usage import cost_usd

log = logging.getLogger("runq.runs")


def complete_run(
    ctx: StepContext,
    session: Session,
    run: Run,
    agent: Agent,
    step: Finish,
    state: ProviderState,
    counted: RunChanges,
    result_json: str | None = None,
    *,
    from_status: RunStatus = RunStatus.IN_PROGRESS,
    first_turn: bool = False,
) -> None:
    """Record the answer (and its validated structured form), price it, cache it."""
    total = _total_usage(run, step.usage)
    now, cost = ctx.now(), run_cost_usd(ctx, run, total)
    # Cached before the run reads completed, so whoever sees it completed and asks again
    # finds the answer. A copy of this step that loses the settle below cached the same text.
    remember_answer(ctx, session, run, agent, step.text)
    ledger.settle(
        session,
        run,
        from_status=from_status,
        first_turn=first_turn,
        usage=step.usage,
        changes=counted
        | RunChanges(
            step_seq=run.step_seq + 1,
            result_text=step.text,
            result_json=result_json,
            finished_at=now,
            cost_usd=cost,
            hosted_items=json.dumps(list(state.hosted_items)) if state.hosted_items else None,
        ),
    )
    note_thread_turn(session, run, agent, state.ref)
    polls = run.poll_count if counted.poll_count is None else counted.poll_count
    log.info("run %s completed (%d polls)", run.id, polls)


def end_run(
    ctx: StepContext,
    session: Session,
    run: Run,
    agent: Agent | None,
    step: Fail,
    counted: RunChanges = NO_CHANGES,
    *,
    at_step: int | None = None,
) -> None:
    """End the run as failed, cancelled or expired; an expired turn is cancelled upstream."""
    total = _total_usage(run, step.usage)
    now, cost = ctx.now(), run_cost_usd(ctx, run, total)
    ledger.end(
        session,
        run,
        status=step.status,
        at_step=at_step,
        usage=step.usage,
        changes=counted
        | RunChanges(
            error=step.reason,
            finished_at=now,
            cost_usd=cost,
        ),
    )
    log.warning("run %s ended %s: %s", run.id, step.status.value, step.reason)
    if step.status in (RunStatus.EXPIRED, RunStatus.CANCELLED) and agent and run.provider_ref:
        cancel_upstream(ctx, run, agent)


def fail_run(ctx: StepContext, run_id: str, step: Fail) -> bool:
    """End a run that is not yet terminal as `step` says; False if it had already ended."""
    with ctx.sessions() as session:
        run = store.get_run(session, run_id=run_id)
        if is_terminal(RunStatus(run.status)):
            return False
        agent = find_agent(run.agent)
        end_run(ctx, session, run, agent, step)
        return True


def cancel_run(ctx: StepContext, run_id: str, reason: str = "cancelled by request") -> bool:
    """Cancel a run: recorded at once (pending polls and tools then stop), and cancelled at
    the provider, best effort. False if the run had already ended."""
    return fail_run(ctx, run_id, Fail(reason, status=RunStatus.CANCELLED))


def cancel_upstream(ctx: StepContext, run: Run, agent: Agent) -> None:
    """Best effort: the run is already recorded as ended either way."""
    try:
        upstream = ctx.provider_for(agent)
        if is_batch_turn(run.provider_ref):
            upstream = BatchLaneProvider(ctx.sessions, agent.name, upstream)
        provider = MeteredProvider(upstream, provider=run.provider, model=run.model)
        provider.cancel(run.provider_ref or "")
    except ProviderError as exc:
        log.warning("run %s: cancel at the provider failed: %s", run.id, exc)


def run_cost_usd(ctx: StepContext, run: Run, total: Usage) -> float:
    """The run's tokens at its model's prices (cached input at the cached rate), times its
    lane's multiplier. A flex run that fell back is priced at standard as a whole: it may
    have had flex turns before, so this errs on the dear side."""
    lane = served_lane(run.lane, run.lane_fallback)
    multiplier = price_multiplier(lane, ctx.lane_price_multipliers)
    return cost_usd(total, ctx.prices.get(run.model)) * multiplier


def _total_usage(run: Run, extra: Usage | None) -> Usage:
    extra = extra or Usage()
    return Usage(
        input_tokens=run.input_tokens + extra.input_tokens,
        output_tokens=run.output_tokens + extra.output_tokens,
        cached_tokens=run.cached_tokens + extra.cached_tokens,
    )
