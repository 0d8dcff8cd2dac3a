"""The run state machine: pure decisions about what a run does next.

`decide` looks at the stored run and the provider's normalized state and returns one `Step`;
`decide_on_error` does the same when the provider call raised. Tasks only load, call these,
persist the step, and enqueue what it says. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from workers.backoff import Schedule, grow_delay_s
from workers.db.statuses import RunStatus
from workers.errors import ProviderError, ProviderRateLimited
from workers.providers.interface import ProviderState, ProviderStatus, ToolCallRequest, Usage
from workers.runs.turn_estimate import poll_delay_s


@dataclass(frozen=True, slots=True)
class RunPolicy:
    """The knobs `decide` needs, as plain values (defaults live in config/settings.py)."""

    poll: Schedule
    retry: Schedule
    max_turns: int
    max_attempts: int
    webhook_first_poll_s: float | None = None
    """The provider calls back when a turn ends (OpenAI webhooks): the first poll of each
    turn waits this long, as the fallback for a lost webhook. None: poll on the schedule."""


@dataclass(frozen=True, slots=True)
class RunView:
    """What `decide` may know about a stored run."""

    status: RunStatus
    poll_count: int  # polls of the current turn
    turn: int
    attempts: int
    deadline_at: datetime
    output_retries_used: int = 0
    recent_turn_s: tuple[float, ...] = ()
    """How long recent turns of this run's model took (seconds): the poll plan reads it."""


@dataclass(frozen=True, slots=True)
class Poll:
    """Ask the provider again after `after_s`."""

    after_s: float


@dataclass(frozen=True, slots=True)
class RunTools:
    """Execute these calls in parallel, then submit all outputs."""

    calls: tuple[ToolCallRequest, ...]
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class Finish:
    """The run completed with this answer."""

    text: str
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class Fail:
    """The run ends in `status` (failed, cancelled or expired) for `reason`."""

    reason: str
    status: RunStatus = RunStatus.FAILED
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class Retry:
    """A transient failure: try the same step again after `after_s` (counts an attempt)."""

    after_s: float
    reason: str


@dataclass(frozen=True, slots=True)
class Throttle:
    """Rate limited: try the same step after `after_s` (does not count an attempt)."""

    after_s: float


@dataclass(frozen=True, slots=True)
class Correct:
    """The answer failed its schema: send it back to the model with `error`, as a new turn."""

    text: str
    error: str
    usage: Usage | None = None


Step = Poll | RunTools | Finish | Fail | Retry | Throttle | Correct


def decide(run: RunView, state: ProviderState, now: datetime, policy: RunPolicy) -> Step:
    """The next step of `run` given the provider's `state` of its current turn."""
    if now >= run.deadline_at and state.status in _STILL_RUNNING:
        return Fail("run passed its deadline", status=RunStatus.EXPIRED, usage=state.usage)
    if state.status in _STILL_RUNNING:
        return Poll(after_s=_poll_delay_s(run, state, now, policy))
    if state.status is ProviderStatus.REQUIRES_TOOLS:
        return _decide_tools(run, state, policy)
    if state.status is ProviderStatus.COMPLETED:
        return Finish(text=state.output_text or "", usage=state.usage)
    return Fail(_failure_reason(state), status=_FINAL_STATUS[state.status], usage=state.usage)


def decide_on_error(run: RunView, error: ProviderError, now: datetime, policy: RunPolicy) -> Step:
    """What to do when a provider call raised `error`."""
    if now >= run.deadline_at:
        return Fail(f"run passed its deadline (last error: {error})", status=RunStatus.EXPIRED)
    if isinstance(error, ProviderRateLimited):
        return Throttle(after_s=error.retry_after_s or grow_delay_s(0, policy.retry))
    if not error.retryable:
        return Fail(f"provider rejected the request: {error}")
    if run.attempts + 1 >= policy.max_attempts:
        return Fail(f"provider unavailable after {run.attempts + 1} attempts: {error}")
    return Retry(after_s=grow_delay_s(run.attempts, policy.retry), reason=str(error))


def decide_answer(
    run: RunView, answer: Finish, schema_error: str | None, output_retries: int
) -> Finish | Correct | Fail:
    """A final answer was checked against the agent's schema (`schema_error` None: valid, or
    no schema). Accept it, ask the model to correct it while retries last, or fail the run."""
    if schema_error is None:
        return answer
    if run.output_retries_used < output_retries:
        return Correct(text=answer.text, error=schema_error, usage=answer.usage)
    return Fail(schema_error, usage=answer.usage)


_MIN_POLL_S = 0.05

_STILL_RUNNING = frozenset({ProviderStatus.QUEUED, ProviderStatus.IN_PROGRESS})

_FINAL_STATUS = {
    ProviderStatus.FAILED: RunStatus.FAILED,
    ProviderStatus.INCOMPLETE: RunStatus.FAILED,
    ProviderStatus.CANCELLED: RunStatus.CANCELLED,
    ProviderStatus.EXPIRED: RunStatus.EXPIRED,
}


def _poll_delay_s(run: RunView, state: ProviderState, now: datetime, policy: RunPolicy) -> float:
    # The provider's hint wins over our schedule, but neither may sleep past the poll cap or
    # the deadline: a run must be seen (and expired) when its deadline comes.
    until_deadline_s = (run.deadline_at - now).total_seconds()
    if state.awaits_wake:
        return max(_MIN_POLL_S, until_deadline_s)
    if run.poll_count == 0 and policy.webhook_first_poll_s is not None:
        # A webhook will wake the poll early; this is only the fallback, so it may pass the cap.
        return max(_MIN_POLL_S, min(policy.webhook_first_poll_s, until_deadline_s))
    if state.poll_after_s:
        return max(_MIN_POLL_S, min(state.poll_after_s, policy.poll.cap_s, until_deadline_s))
    # The plan has its own floors (none before a turn's first poll: see turn_estimate).
    delay_s = poll_delay_s(run.poll_count, run.recent_turn_s, policy.poll)
    return min(delay_s, policy.poll.cap_s, until_deadline_s)


def _decide_tools(run: RunView, state: ProviderState, policy: RunPolicy) -> Step:
    if not state.tool_calls:
        return Fail("provider asked for tool outputs but sent no tool calls", usage=state.usage)
    if run.turn + 1 > policy.max_turns:
        return Fail(f"turn limit reached ({policy.max_turns} tool round trips)", usage=state.usage)
    return RunTools(calls=state.tool_calls, usage=state.usage)


def _failure_reason(state: ProviderState) -> str:
    detail = state.error or "no reason given"
    if state.status is ProviderStatus.INCOMPLETE:
        return f"provider stopped the run early (incomplete): {detail}"
    return f"provider ended the run {state.status.value}: {detail}"
