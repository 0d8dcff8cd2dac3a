"""The run steps: start, poll, submit. Each loads the run, asks the provider, calls
`decide`, persists the transition, and returns what should happen next.

Every step is idempotent: it checks the run is still where the message expects it (status,
step sequence, turn) and returns `Nothing` for stale or duplicate messages. The transition
is committed before the caller enqueues the next message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import timedelta

from sqlmodel import Session

from workers.agents import Agent, get_agent
from workers.db import store
from workers.db.changes import RunChanges
from workers.db.models import Run
from workers.db.statuses import RunStatus, ToolCallStatus
from workers.db.store import TurnCall
from workers.errors import (
    IllegalTransition,
    ProviderError,
    ProviderRateLimited,
    ProviderTimedOut,
    TierUnavailable,
)
from workers.guardrails import first_tripped
from workers.lanes import Lane, fallback_of, served_lane
from workers.limits import spend
from workers.observability import events
from workers.providers.interface import Provider, ProviderState, ProviderStatus, ToolOutput
from workers.providers.metered import MeteredProvider
from workers.runs import gates, handoffs, ledger
from workers.runs.answers import complete_from_cache
from workers.runs.batch_lane import BatchLaneProvider
from workers.runs.budget_guard import OverBudget
from workers.runs.context import FanOut, Later, Next, Nothing, StepContext, StepName
from workers.runs.guardrail_meter import StepMeter
from workers.runs.lease import lease_until, leased
from workers.runs.ledger import NO_CHANGES, Due
from workers.runs.outcomes import complete_run, end_run
from workers.runs.recovery import tool_wait_s
from workers.runs.state import (
    Correct,
    Fail,
    Finish,
    Poll,
    Retry,
    RunPolicy,
    RunTools,
    RunView,
    Throttle,
    decide,
    decide_answer,
    decide_on_error,
)
from workers.runs.structured_output import check_structured
from workers.runs.threads import prepare_thread
from workers.runs.turn_requests import build_turn_request, caller_tool_names, synchronous_turn
from workers.runs.usage import estimate_turn_tokens, provider_counted_tokens
from workers.tools.mcp_tools import offered_tools

log = logging.getLogger("runq.runs")


def start_run(ctx: StepContext, run_id: str, step_seq: int | None = None) -> Next:
    """Create the run's first turn at the provider.

    A pending run is claimed (in_progress, started) just before the create, so a run in its
    first turn says so even while a synchronous turn runs. `step_seq` names a claimed run
    whose create is still owed (a retry, or the sweep after a lost worker); a start without
    it only starts a pending run. Duplicates and stale messages do nothing."""
    with ctx.sessions() as session:
        run = store.get_run(session, run_id=run_id)
        if not _start_owed(run, step_seq):
            return Nothing(f"run is {run.status} at step {run.step_seq}: no start owed")
        agent = get_agent(run.agent)
        pending = run.status == RunStatus.PENDING
        if pending:
            waiting = prepare_thread(ctx, session, run, agent)
            if waiting is not None:
                return waiting
            meter = StepMeter(ctx, session, run, agent)
            tripped = first_tripped(agent.input_guardrails, run.input, meter)
            if meter.throttled_s > 0:
                return Later(StepName.START, (run_id,), after_s=meter.throttled_s)
            if tripped is not None:
                # Before the first model request: nothing was asked or spent.
                end_run(ctx, session, run, agent, Fail(tripped), at_step=run.step_seq)
                return Nothing(tripped, ended=RunStatus.FAILED)
        request = build_turn_request(ctx, session, run, agent)
        if pending and complete_from_cache(ctx, session, run, request):
            return Nothing("answered from the cache")
        tokens = estimate_turn_tokens(request, request.input_text)

        def claim() -> Later:
            with _fenced(run):
                if run.status == RunStatus.PENDING:
                    ledger.claim_start(session, run, now=ctx.now(), lease_until=lease_until(ctx))
                else:
                    ledger.retake_start(session, run, lease_until=lease_until(ctx))
            return Later(StepName.START, (run_id, run.step_seq))

        retry = Later(StepName.START, (run_id,) if pending else (run_id, run.step_seq))
        outcome = _call(
            ctx, session, run, agent, lambda p: p.create(request), retry, tokens, claim=claim
        )
        if not isinstance(outcome, ProviderState):
            return outcome
        # Two creates of one claimed start (a retry raced by the sweep's re-send after a
        # lost lease): the first answer recorded wins, the other finds the turn taken.
        turn = _Turn(RunStatus.IN_PROGRESS, _new_turn(outcome, tokens), first_turn=True)
        log.info("run %s created at the provider as %s", run_id, outcome.ref)
        return _advance(ctx, session, run, agent, outcome, turn)


def _start_owed(run: Run, step_seq: int | None) -> bool:
    if step_seq is None:
        # A parked run's start belongs to the sweep, which unparks it when due: a stray
        # message must not start a run_at run early.
        return run.status == RunStatus.PENDING and not run.parked
    claimed = run.status == RunStatus.IN_PROGRESS and run.provider_ref is None
    return claimed and run.step_seq == step_seq


def poll_run(ctx: StepContext, run_id: str, step_seq: int) -> Next:
    """Read the current turn's state and act on it. Stale polls (old step_seq) are dropped."""
    with ctx.sessions() as session:
        run = store.get_run(session, run_id=run_id)
        if run.status != RunStatus.IN_PROGRESS or run.step_seq != step_seq:
            return Nothing(f"stale poll {step_seq} (run is {run.status} at {run.step_seq})")
        agent = get_agent(run.agent)
        ref = run.provider_ref or ""
        retry = Later(StepName.POLL, (run_id, step_seq))
        outcome = _call(ctx, session, run, agent, lambda p: p.retrieve(ref), retry, 0)
        if not isinstance(outcome, ProviderState):
            return outcome
        return _advance(ctx, session, run, agent, outcome, polled=True)


def submit_outputs(ctx: StepContext, run_id: str, turn: int, *, quick_only: bool = False) -> Next:
    """Send every tool output of `turn` back in one request, then poll the next turn.

    With `quick_only` (the submit made by the tool task that finished the turn), a turn that
    would be one synchronous request is sent to the runs queue instead: it would hold a tool
    slot for the whole model turn."""
    with ctx.sessions() as session:
        run = store.get_run(session, run_id=run_id)
        if run.status != RunStatus.REQUIRES_TOOLS or run.turn != turn:
            return Nothing(f"stale submit for turn {turn} (run is {run.status}, turn {run.turn})")
        calls = store.calls_of_turn(session, run_id=run_id, turn=turn)
        unfinished = _unfinished(run_id, turn, calls)
        if unfinished is not None:
            return unfinished
        agent = get_agent(run.agent)
        outputs = [ToolOutput(call_id=c.call_id, output=c.output or "") for c in calls]
        handed = _handed_off(run, agent, calls)
        if handed is not None:
            # The next turn is the new agent's: its instructions, tools and model.
            agent = get_agent(handed.agent or "")
            ledger.preview(run, handed)
        retry = Later(StepName.SUBMIT, (run_id, turn))
        if quick_only and synchronous_turn(ctx, agent, run):
            return retry  # decided before the request is built: the runs queue builds it
        request = build_turn_request(ctx, session, run, agent)
        tokens = estimate_turn_tokens(request, json.dumps([asdict(o) for o in outputs]))
        ref = run.provider_ref or ""

        def claim() -> Later:
            with _fenced(run):
                ledger.claim_submit(
                    session, run, lease_until=lease_until(ctx), changes=handed or NO_CHANGES
                )
            return retry

        def send_outputs(provider: Provider) -> ProviderState:
            return provider.submit_tool_outputs(ref, outputs, request)

        outcome = _call(ctx, session, run, agent, send_outputs, retry, tokens, claim=claim)
        if not isinstance(outcome, ProviderState):
            if run.status == RunStatus.SUBMITTING:
                # The submit will be retried: give the run back to requires_tools.
                with _fenced(run):
                    ledger.release_submit(session, run)
            return outcome
        submitted = _Turn(RunStatus.SUBMITTING, _new_turn(outcome, tokens))
        return _advance(ctx, session, run, agent, outcome, submitted)


def _unfinished(run_id: str, turn: int, calls: list[TurnCall]) -> Next | None:
    """What a submit does instead while calls of its turn have no output yet: send those
    still pending, or leave the turn to the call still running."""
    pending = tuple(c.call_id for c in calls if c.status == ToolCallStatus.PENDING)
    if pending:
        return FanOut(run_id, turn, pending)
    if any(c.status == ToolCallStatus.RUNNING for c in calls):
        # The call still running submits the turn when it finishes it; if its worker
        # died, the run is overdue and the sweep resumes the tools.
        return Nothing(f"turn {turn} still has tool calls running")
    return None


def _handed_off(run: Run, agent: Agent, calls: list[TurnCall]) -> RunChanges | None:
    """The agent and model a finished turn hands the run to, if one of its calls was a
    handoff (the first one answered as transferred)."""
    target = handoffs.handoff_of(
        {c.call_id: c.name for c in calls}, {c.call_id: c.output for c in calls}, agent.handoffs
    )
    if target is None:
        return None
    return RunChanges(agent=target, model=get_agent(target).model)


def view_of(run: Run) -> RunView:
    """The slice of a stored run that `decide` may see (polls of the current turn)."""
    return RunView(
        status=RunStatus(run.status),
        poll_count=run.turn_polls,
        turn=run.turn,
        attempts=run.attempts,
        deadline_at=run.deadline_at,
        output_retries_used=run.output_retries_used,
    )


def _new_turn(state: ProviderState, tokens: int) -> RunChanges:
    """A model turn was accepted: its reference, its token reservation, a fresh poll ladder."""
    return RunChanges(provider_ref=state.ref, reserved_tokens=tokens, attempts=0, turn_polls=0)


@dataclass(frozen=True, slots=True)
class _Turn:
    """A turn the provider just accepted (a create, a submit, a correction): written by the
    same UPDATE that records what the step decided about it, one statement per step."""

    from_status: RunStatus
    changes: RunChanges
    first_turn: bool = False
    """Only if the run has no provider turn yet: of two creates of one claimed start, the
    first answer recorded wins."""


_POLLED = _Turn(RunStatus.IN_PROGRESS, NO_CHANGES)
"""A poll found the turn already recorded: nothing new to write about it."""


@contextmanager
def _fenced(run: Run, outcome: ProviderState | None = None) -> Iterator[None]:
    """A compare-and-set at the run's step as this worker last saw it. The late writer of
    a step that was overtaken (the sweep released it, a later step moved the run on) loses
    here, says so, and changes nothing."""
    seq, status = run.step_seq, run.status
    try:
        yield
    except IllegalTransition as exc:
        answer = "" if outcome is None else f"; provider answer {outcome.ref} dropped"
        log.warning(
            "run %s: lost the race at step %d (from %s), a later step moved the run on%s: %s",
            run.id,
            seq,
            status,
            answer,
            exc,
        )
        raise


def _due(ctx: StepContext, after_s: float) -> Due:
    """When a message sent now with this countdown is due; parked if no countdown may be
    that long."""
    parked = ctx.max_countdown_s is not None and after_s > ctx.max_countdown_s
    return Due(ctx.now() + timedelta(seconds=after_s), parked=parked)


def _call(
    ctx: StepContext,
    session: Session,
    run: Run,
    agent: Agent,
    call: Callable[[Provider], ProviderState],
    retry: Later,
    tokens: int,
    *,
    claim: Callable[[], Later] | None = None,
    hold_as: str | None = None,
) -> ProviderState | Next:
    """Ask the limiter, claim the step, make one provider call under a lease, and turn a
    failure into the next step.

    `claim` moves the run into the step (fenced) once the limiter clears it and returns the
    message that retries the claimed step. While the request is in flight the run's lease
    keeps the sweep from re-sending a live step; the request may not outlive the deadline.
    A request that sends tokens first holds its worst-case cost on the run's dollar budgets
    (`hold_as`, default the turn in flight); one that does not fit never goes out."""
    hold = hold_as or _hold_id(run)
    if tokens > 0:
        max_output = agent.max_output_tokens or ctx.default_max_output_tokens
        over = ctx.budgets.hold(session, run, agent, hold, max(0, tokens - max_output))
        if over is not None:
            return _over_budget(ctx, session, run, agent, over, retry)
    key_id = ctx.api_key_id_for(agent)
    wait_s = ctx.clearance.wait_s(model=run.model, api_key_id=key_id, tokens=tokens, holder=run.id)
    if wait_s > 0:
        return replace(retry, after_s=wait_s)
    if claim is not None:
        retry = claim()  # the claim writes the lease with it
    # End the read transaction: its pooled connection must not wait on the provider with us
    # (a synchronous turn waits seconds; a worker has more threads than connections).
    session.commit()
    try:
        left_s = (run.deadline_at - ctx.now()).total_seconds()
        if left_s <= 0:
            raise ProviderTimedOut("no time left before the run's deadline")
        provider = (
            ctx.provider_for(agent)
            if ctx.provider_within is None
            else ctx.provider_within(agent, left_s)
        )
        if served_lane(run.lane, run.lane_fallback) is Lane.BATCH:
            provider = BatchLaneProvider(ctx.sessions, agent.name, provider)
        with leased(ctx, run, taken=claim is not None):
            return call(MeteredProvider(provider, provider=run.provider, model=run.model))
    except ProviderError as exc:
        return _after_error(ctx, session, run, agent, exc, retry, hold)


def _after_error(
    ctx: StepContext,
    session: Session,
    run: Run,
    agent: Agent,
    exc: ProviderError,
    retry: Later,
    hold: str,
) -> Next:
    """What a failed provider request leads to: another lane, a throttled or counted retry,
    or the end of the run."""
    key_id = ctx.api_key_id_for(agent)
    fallback = _lane_fallback(run, exc)
    if fallback is not None:
        log.info("run %s: %s; its turns go to lane %s", run.id, exc, fallback)
        ledger.fall_back_lane(session, run, lane=fallback, due=_due(ctx, 0.0))
        return replace(retry, after_s=0.0, due_recorded=True)
    step = decide_on_error(view_of(run), exc, ctx.now(), ctx.policy)
    if isinstance(step, Throttle):
        if isinstance(exc, ProviderRateLimited):
            ctx.clearance.pause(model=run.model, api_key_id=key_id, delay_s=step.after_s)
        return replace(retry, after_s=step.after_s)
    if isinstance(step, Retry):
        log.warning("run %s: retry in %.1fs: %s", run.id, step.after_s, step.reason)
        due = _due(ctx, step.after_s)
        ledger.count_attempt(session, run, due=due)
        return replace(retry, after_s=step.after_s, due_recorded=True, parked=due.parked)
    assert isinstance(step, Fail)
    # What the failed request cost is unknown: its hold becomes spend (the worst case),
    # never a silent overrun.
    ctx.budgets.settle(run, agent, hold, None)
    end_run(ctx, session, run, agent, step)
    return Nothing(step.reason, ended=step.status)


def _hold_id(run: Run) -> str:
    """The budget hold of the run's model turn in flight (see `spend.hold_id`)."""
    return spend.hold_id(run.id, run.turn, run.output_retries_used)


def _over_budget(
    ctx: StepContext, session: Session, run: Run, agent: Agent, over: OverBudget, retry: Later
) -> Next:
    """A turn that does not fit a dollar budget: wait for room if the key says so and the
    deadline leaves time to, else the run fails with the reason (it starts "budget:")."""
    wait_until = ctx.now() + timedelta(seconds=ctx.budget_wait_s)
    if over.wait and wait_until < run.deadline_at:
        return replace(retry, after_s=ctx.budget_wait_s)
    step = Fail(over.reason)
    end_run(ctx, session, run, agent, step)
    return Nothing(step.reason, ended=step.status)


def _lane_fallback(run: Run, exc: ProviderError) -> str | None:
    """The lane a turn goes to when its own had no capacity (flex -> standard), else None.
    The step is sent again at once; the run's deadline still bounds it."""
    if not isinstance(exc, TierUnavailable):
        return None
    fallback = fallback_of(served_lane(run.lane, run.lane_fallback))
    return None if fallback is None else fallback.value


def _advance(
    ctx: StepContext,
    session: Session,
    run: Run,
    agent: Agent,
    state: ProviderState,
    turn: _Turn = _POLLED,
    *,
    polled: bool = False,
) -> Next:
    """Decide what `state` means and write it, with the turn it came from, in one
    compare-and-set; name the next message."""
    ledger.preview(run, turn.changes)
    view = replace(
        view_of(run),
        poll_count=run.turn_polls + int(polled),
        recent_turn_s=_recent_turn_s(ctx, run, state),
    )
    step = decide(view, state, ctx.now(), _policy_of(ctx, agent))
    seq = run.step_seq
    counted = turn.changes | RunChanges(attempts=0)
    if polled:
        counted |= RunChanges(poll_count=run.poll_count + 1, turn_polls=run.turn_polls + 1)
    if isinstance(step, Poll):
        due = _due(ctx, step.after_s)
        with _fenced(run, state if turn is not _POLLED else None):
            ledger.await_model(
                session,
                run,
                from_status=turn.from_status,
                changes=counted | RunChanges(step_seq=seq + 1),
                due=due,
                first_turn=turn.first_turn,
            )
        return Later(
            StepName.POLL, (run.id, seq + 1), step.after_s, due_recorded=True, parked=due.parked
        )
    _settle(ctx, run, agent, state)
    events.turn_ended(view.poll_count)
    if isinstance(step, RunTools):
        return _fan_out(ctx, session, run, agent, step, counted, turn)
    if isinstance(step, Finish):
        return _answer(ctx, session, run, agent, state, step, counted, turn)
    assert isinstance(step, Fail)
    end_run(ctx, session, run, agent, step, counted | RunChanges(step_seq=seq + 1), at_step=seq)
    return Nothing(step.reason, ended=step.status)


def _fan_out(
    ctx: StepContext,
    session: Session,
    run: Run,
    agent: Agent,
    step: RunTools,
    counted: RunChanges,
    turn: _Turn,
) -> Next:
    """Record the turn's tool calls (pending) and ask for them to run in parallel; the run
    is due back when its slowest tool's timeouts have passed. A turn with calls that wait
    for a person or the caller is recorded waiting instead, due when its wait ends, and
    nothing is sent: the approval or the outputs move it on."""
    handoff, answered = handoffs.answers(step.calls, agent.handoffs)
    others = [c for c in step.calls if c.call_id not in answered]
    waiting = gates.waiting_calls(others, agent, ctx.tools, caller_tool_names(run))
    if waiting:
        ends_at = gates.wait_ends_at(ctx.now(), run.deadline_at, agent.action_timeout_s)
        due = Due(ends_at, parked=True)
    else:
        # This process may not have listed the agent's MCP servers yet (another built the
        # turn's request): their tools' timeouts count too.
        offered_tools(ctx.tools, agent.tools, agent.mcp_servers)
        tools = [ctx.tools.get(c.name) for c in others if c.name in ctx.tools]
        wait_s = tool_wait_s([t.longest_run_s(ctx.tool_retries) for t in tools], ctx.tool_grace_s)
        due = Due(ctx.now() + timedelta(seconds=wait_s))
    with _fenced(run):
        ledger.run_tools(
            session,
            run,
            from_status=turn.from_status,
            turn=run.turn + 1,
            calls=step.calls,
            usage=step.usage,
            changes=counted,
            due=due,
            first_turn=turn.first_turn,
            waiting=waiting,
            answered=answered,
        )
    if waiting:
        log.info(
            "run %s: turn %d waits for %s (%d of %d calls)",
            run.id,
            run.turn,
            " and ".join(gates.needs_of(waiting)),
            len(waiting),
            len(step.calls),
        )
        return Nothing("waiting for approval or the caller's tool outputs")
    if handoff is not None:
        log.info("run %s: turn %d hands the run to %s", run.id, run.turn, handoff.target)
    if not others:
        # Only handoffs, answered already: nothing to run, the submit is owed now.
        return Later(StepName.SUBMIT, (run.id, run.turn), due_recorded=True)
    log.info("run %s: turn %d asks for %d tool calls", run.id, run.turn, len(others))
    return FanOut(run.id, run.turn, tuple(c.call_id for c in others), due_recorded=True)


def _answer(
    ctx: StepContext,
    session: Session,
    run: Run,
    agent: Agent,
    state: ProviderState,
    step: Finish,
    counted: RunChanges,
    turn: _Turn,
) -> Next:
    """A final answer: complete the run, or (structured output) correct or fail it."""
    checked = check_structured(agent.output_schema, agent.json_mode, step.text)
    error = None if checked is None else checked.error
    verdict = decide_answer(view_of(run), step, error, agent.output_retries)
    if isinstance(verdict, Correct):
        return _ask_to_correct(ctx, session, run, agent, verdict, counted, turn)
    if isinstance(verdict, Finish):
        meter = StepMeter(ctx, session, run, agent)
        tripped = first_tripped(agent.output_guardrails, step.text, meter)
        if meter.throttled_s > 0:
            # The poll at this step reads the same answer again and checks it once more.
            return Later(StepName.POLL, (run.id, run.step_seq), after_s=meter.throttled_s)
        if tripped is not None:
            verdict = Fail(tripped, usage=step.usage)
    if isinstance(verdict, Fail):
        end_run(ctx, session, run, agent, verdict, counted)
        return Nothing(verdict.reason, ended=verdict.status)
    result_json = None if checked is None else json.dumps(checked.value)
    with _fenced(run, state):
        complete_run(
            ctx,
            session,
            run,
            agent,
            verdict,
            state,
            counted,
            result_json,
            from_status=turn.from_status,
            first_turn=turn.first_turn,
        )
    return Nothing("completed")


def _ask_to_correct(
    ctx: StepContext,
    session: Session,
    run: Run,
    agent: Agent,
    step: Correct,
    counted: RunChanges,
    turn: _Turn,
) -> Next:
    """Send an answer that failed its schema back to the model once more, as a new turn."""
    message = (
        f"Your answer did not match the required JSON schema: {step.error}. "
        "Reply again with only JSON that matches the schema."
    )
    request = build_turn_request(ctx, session, run, agent)
    tokens = estimate_turn_tokens(request, message)
    ref = run.provider_ref or ""
    # If this call must be retried, the next poll re-reads the same answer and asks again.
    retry = Later(StepName.POLL, (run.id, run.step_seq))

    def claim() -> Later:
        # The correction takes a step of its own (written with the turn it corrects): a
        # copy of this poll (redelivered while the request is slow) finds it taken instead
        # of asking a second time.
        with _fenced(run):
            ledger.claim_turn(
                session,
                run,
                from_status=turn.from_status,
                changes=counted,
                lease_until=lease_until(ctx),
                usage=step.usage,
                first_turn=turn.first_turn,
            )
        return Later(StepName.POLL, (run.id, run.step_seq))

    def correct(provider: Provider) -> ProviderState:
        return provider.send_correction(ref, step.text, message, request)

    # The correction is a turn of its own: its hold is named as the turn will be counted.
    hold_as = spend.hold_id(run.id, run.turn, run.output_retries_used + 1)
    outcome = _call(ctx, session, run, agent, correct, retry, tokens, claim=claim, hold_as=hold_as)
    if not isinstance(outcome, ProviderState):
        return outcome
    log.info("run %s: answer failed its schema; asked the model to correct it", run.id)
    corrected = _new_turn(outcome, tokens) | RunChanges(
        output_retries_used=run.output_retries_used + 1
    )
    return _advance(ctx, session, run, agent, outcome, _Turn(RunStatus.IN_PROGRESS, corrected))


def _recent_turn_s(ctx: StepContext, run: Run, state: ProviderState) -> tuple[float, ...]:
    """The model's recent turn durations, read only when the poll plan will need them."""
    if state.status not in (ProviderStatus.QUEUED, ProviderStatus.IN_PROGRESS):
        return ()
    return ctx.turn_times.recent(run.model)


def _policy_of(ctx: StepContext, agent: Agent) -> RunPolicy:
    if agent.provider_webhooks and agent.provider == "responses":
        return replace(ctx.policy, webhook_first_poll_s=ctx.webhook_poll_first_s)
    return ctx.policy


def _settle(ctx: StepContext, run: Run, agent: Agent, state: ProviderState) -> None:
    """A turn ended: give the limiter what the provider counted in place of the reservation,
    swap the turn's dollar hold for its cost, and add how long the turn took to the model's
    history (the poll plan reads it)."""
    if state.duration_s is not None:
        ctx.turn_times.record(run.model, state.duration_s)
    ctx.budgets.settle(run, agent, _hold_id(run), state.usage)
    max_output = agent.max_output_tokens or ctx.default_max_output_tokens
    counted = None if state.usage is None else provider_counted_tokens(state.usage, max_output)
    ctx.clearance.settle(
        model=run.model,
        api_key_id=ctx.api_key_id_for(agent),
        estimated_tokens=run.reserved_tokens,
        counted_tokens=counted,
        headers=state.rate_limit_headers,
    )
