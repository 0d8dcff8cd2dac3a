"""One call per thing that happened: a run transition, a tool execution, a provider request,
a limiter wait, a cache lookup, a callback. Each updates the Prometheus families and writes
one structured log line (fields in `extra`, rendered as JSON or text by `log_format`).

Callers pass plain values they already hold; nothing here reads the database or Redis.
Arguments, inputs, outputs and error messages are never logged: they may carry secrets
(tool arguments marked secret, keys echoed in a provider's error text). Error *types* are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from workers.observability import metrics
from workers.observability.tracing import record_run_span

log = logging.getLogger("runq.events")


@dataclass(frozen=True, slots=True)
class RunEnd:
    """What a terminal transition recorded, in plain values."""

    run_id: str
    agent: str
    model: str
    status: str
    turn: int
    created_at: datetime
    finished_at: datetime
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0


def run_moved(*, run_id: str, agent: str, from_status: str, to_status: str, turn: int) -> None:
    """A non-terminal status change was committed."""
    log.info(
        "run %s %s -> %s",
        run_id,
        from_status,
        to_status,
        extra={
            "event": "run_transition",
            "run_id": run_id,
            "agent": agent,
            "from_status": from_status,
            "status": to_status,
            "turn": turn,
        },
    )


def run_ended(end: RunEnd, *, from_status: str) -> None:
    """A terminal status was committed: count it, time it, price it, log it."""
    duration_s = max(0.0, (end.finished_at - end.created_at).total_seconds())
    _count_run(end, duration_s)
    record_run_span(
        run_id=end.run_id,
        agent=end.agent,
        status=end.status,
        started=end.created_at,
        ended=end.finished_at,
    )
    level = logging.INFO if end.status == "completed" else logging.WARNING
    log.log(
        level,
        "run %s %s -> %s after %.2fs",
        end.run_id,
        from_status,
        end.status,
        duration_s,
        extra={
            "event": "run_transition",
            "run_id": end.run_id,
            "agent": end.agent,
            "from_status": from_status,
            "status": end.status,
            "turn": end.turn,
            "duration_s": round(duration_s, 3),
            "tokens": end.input_tokens + end.output_tokens,
            "cost_usd": end.cost_usd,
        },
    )


def _count_run(end: RunEnd, duration_s: float) -> None:
    metrics.RUNS_TOTAL.labels(end.agent, end.status).inc()
    metrics.RUN_DURATION_S.labels(end.agent).observe(duration_s)
    for kind, count in (
        ("input", end.input_tokens),
        ("output", end.output_tokens),
        ("cached", end.cached_tokens),
    ):
        if count:
            metrics.TOKENS_TOTAL.labels(end.model, kind).inc(count)
    if end.cost_usd:
        metrics.COST_USD_TOTAL.labels(end.agent, end.model).inc(end.cost_usd)


def turn_ended(polls: int) -> None:
    """A model turn left in_progress after `polls` polls."""
    metrics.POLLS_PER_TURN.observe(polls)


@dataclass(frozen=True, slots=True)
class ToolRun:
    """One finished tool execution, in plain values."""

    run_id: str
    agent: str
    call_id: str
    tool: str
    turn: int
    outcome: str  # succeeded | failed | unavailable
    duration_ms: int
    attempts: int
    error_type: str | None = None


def tool_executed(done: ToolRun) -> None:
    """A tool call's output (or error output) was recorded."""
    metrics.TOOL_CALLS_TOTAL.labels(done.tool, done.outcome).inc()
    metrics.TOOL_DURATION_S.labels(done.tool).observe(done.duration_ms / 1000.0)
    metrics.TOOL_BREAKER_OPEN.labels(done.tool).set(1 if done.outcome == "unavailable" else 0)
    log.log(
        logging.INFO if done.outcome == "succeeded" else logging.WARNING,
        "run %s call %s: %s %s in %dms",
        done.run_id,
        done.call_id,
        done.tool,
        done.outcome,
        done.duration_ms,
        extra={
            "event": "tool_execution",
            "run_id": done.run_id,
            "agent": done.agent,
            "call_id": done.call_id,
            "tool": done.tool,
            "turn": done.turn,
            "status": done.outcome,
            "duration_ms": done.duration_ms,
            "attempts": done.attempts,
            "error_type": done.error_type,
        },
    )


def provider_requested(*, provider: str, model: str, kind: str, outcome: str) -> None:
    """One request reached (or failed to reach) the provider."""
    metrics.PROVIDER_REQUESTS_TOTAL.labels(provider, model, kind, outcome).inc()


def model_turn_started(*, provider: str, model: str, background: bool) -> None:
    """The provider accepted a model turn (a create, a submit of tool outputs, a correction),
    run in the background or as one synchronous request."""
    mode = "background" if background else "synchronous"
    metrics.MODEL_TURNS_TOTAL.labels(provider, model, mode).inc()


def limiter_waited(*, model: str, dimension: str, wait_s: float, reserved: bool) -> None:
    """The shared budget made a provider call wait `wait_s` (`reserved`: with its request
    already charged, so it goes without asking again)."""
    metrics.LIMITER_WAITS_TOTAL.labels(model, dimension).inc()
    metrics.LIMITER_WAIT_S.observe(wait_s)
    if reserved:
        metrics.LIMITER_RESERVATIONS_TOTAL.labels(model).inc()


def cache_looked_up(result: str) -> None:
    """A response cache lookup: hit, miss, bypass or error."""
    metrics.CACHE_REQUESTS_TOTAL.labels(result).inc()


def callback_sent(outcome: str) -> None:
    """A run-finished callback was attempted (for the callback sender to call)."""
    metrics.CALLBACKS_TOTAL.labels(outcome).inc()
