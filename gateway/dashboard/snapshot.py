"""What the dashboard shows, read into plain values: runs from the database, the shared
budget, the cache and the tool breakers from Redis. Rendering is in `pages`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import redis
from sqlmodel import Session

from config.settings import get_settings
from gateway.run_view import read_waiting_runs
from workers.public import runtime
from workers.public.budgets import LimitKey, RedisRateLimiter, fingerprint_api_key
from workers.public.catalog import default_registry, is_open, masked_arguments
from workers.public.records import Run, ToolCall, fleet_store, store

LATEST_RUNS = 50


@dataclass(frozen=True, slots=True)
class RunRow:
    """One line of the latest-runs table."""

    run_id: str
    status: str
    agent: str
    duration_s: float
    turns: int
    tool_calls: int
    cost_usd: float
    error: str | None


@dataclass(frozen=True, slots=True)
class BudgetRow:
    """The shared budget of one model for the main API key."""

    model: str
    requests_per_min: int
    tokens_per_min: int
    requests_left: float | None
    tokens_left: float | None
    paused: bool


@dataclass(frozen=True, slots=True)
class WaitingRow:
    """One tool call of a run in requires_action (arguments masked)."""

    run_id: str
    agent: str
    call_id: str
    tool: str
    waits_for: str  # approval (a person) | output (the caller)
    arguments: str
    due_at: datetime | None  # when the wait runs out


@dataclass(frozen=True, slots=True)
class Overview:
    """The front page."""

    by_status_last_hour: dict[str, int]
    latest: list[RunRow]
    budgets: list[BudgetRow]
    cache: dict[str, int] | None
    open_breakers: list[str]
    waiting: list[WaitingRow] = field(default_factory=list)


def row_of(run: Run, tool_calls: int, now: datetime) -> RunRow:
    """A run as one table row; a running run's duration is its age."""
    duration_s = ((run.finished_at or now) - run.created_at).total_seconds()
    return RunRow(
        run.id, run.status, run.agent, duration_s, run.turn, tool_calls, run.cost_usd, run.error
    )


def read_overview(session: Session, now: datetime) -> Overview:
    """Everything on the front page, read now."""
    runs = fleet_store.latest_runs(session, limit=LATEST_RUNS)
    calls = fleet_store.count_tool_calls(session, run_ids=[r.id for r in runs])
    return Overview(
        by_status_last_hour=fleet_store.count_runs_since(session, since=now - timedelta(hours=1)),
        latest=[row_of(run, calls.get(run.id, 0), now) for run in runs],
        budgets=_read_budgets(),
        cache=_read_cache(),
        open_breakers=_read_open_breakers(),
        waiting=read_waiting(session),
    )


def read_waiting(session: Session) -> list[WaitingRow]:
    """Every waiting call of the runs in requires_action, the wait that runs out first
    first."""
    return [
        WaitingRow(
            run["id"],
            run["agent"],
            call["call_id"],
            call["name"],
            call["waits_for"],
            call["arguments"],
            run["due_at"],
        )
        for run in read_waiting_runs(session, limit=LATEST_RUNS)
        for call in run["waiting"]
    ]


def read_run(session: Session, run_id: str) -> tuple[Run, list[ToolCall]]:
    """One run and its tool calls (RunNotFound if there is none)."""
    return store.get_run(session, run_id=run_id), store.list_tool_calls(session, run_id=run_id)


def shown_arguments(call: ToolCall) -> str:
    """The call's arguments with the tool's secret ones masked."""
    return masked_arguments(call.name, call.arguments)


def _read_budgets() -> list[BudgetRow]:
    settings = get_settings()
    if not settings.redis.url:
        return []
    limiter = RedisRateLimiter(runtime.get_redis(), prefix=settings.redis.prefix)
    fingerprint = fingerprint_api_key(settings.provider.api_key.get_secret_value())
    rows = []
    now_ms = int(time.time() * 1000)
    for model, limits in sorted(settings.limits.model_limits.items()):
        try:
            state = limiter.read_state(LimitKey(fingerprint, model))
        except redis.RedisError:
            state = None
        rows.append(
            BudgetRow(
                model,
                limits.requests_per_min,
                limits.tokens_per_min,
                None if state is None else state.requests_available,
                None if state is None else state.tokens_available,
                state is not None and state.paused_until_ms > now_ms,
            )
        )
    return rows


def _read_cache() -> dict[str, int] | None:
    if not get_settings().redis.url:
        return None
    try:
        stats = runtime.get_response_cache().stats()
    except redis.RedisError:
        return None
    return {"hits": stats.hits, "misses": stats.misses}


def _read_open_breakers() -> list[str]:
    breakers = runtime.get_step_context().breakers
    if breakers is None:
        return []
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    try:
        return [n for n in default_registry.names() if is_open(breakers.state(n), now_ms)]
    except redis.RedisError:
        return []
