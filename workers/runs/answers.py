"""Answers from the response cache: a hit completes a run with no provider call.

Only runs marked `use_cache` take part. A finished answer is kept only when every tool the
run called is marked pure: an answer that depended on a side effect (sending an email,
charging a card) must not be replayed for the next caller.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session

from workers.agents import Agent
from workers.cache.cache_key import build_cache_key
from workers.db import store, thread_store
from workers.db.changes import RunChanges
from workers.db.models import Run
from workers.db.statuses import RunStatus
from workers.observability import events
from workers.providers.interface import TurnRequest
from workers.runs import ledger
from workers.runs.context import StepContext
from workers.runs.turn_requests import build_turn_request

log = logging.getLogger("runq.cache")


def answer_cache_key(ctx: StepContext, session: Session, run: Run, request: TurnRequest) -> str:
    """The key of everything that shapes this run's answer, the thread's history included,
    scoped to the run's owner: a cached answer is never shared between API keys."""
    canonical: dict[str, Any] = {
        "owner": run.owner_key_id or None,
        "provider": run.provider,
        "base_url": ctx.base_url,
        "model": request.model,
        "instructions": request.instructions,
        "input": request.input_text,
        "tools": [dict(spec) for spec in request.tools],
        "temperature": request.temperature,
        "max_output_tokens": request.max_output_tokens,
        "response_format": {"schema": request.output_schema, "json_mode": request.json_mode},
        "history": _thread_history(session, run),
    }
    return build_cache_key(canonical)


def _thread_history(session: Session, run: Run) -> list[list[str | None]]:
    """The questions and answers earlier in the run's thread: the same question later in a
    conversation is a different question."""
    if run.thread_id is None:
        return []
    earlier = thread_store.finished_runs_on_thread(
        session, thread_id=run.thread_id, before=run.created_at
    )
    return [[r.input, r.result_text] for r in earlier]


def complete_from_cache(ctx: StepContext, session: Session, run: Run, request: TurnRequest) -> bool:
    """If the answer is cached, complete the pending run with it and return True."""
    if ctx.cache is None:
        return False
    if not run.use_cache:
        events.cache_looked_up("bypass")
        return False
    cached = ctx.cache.get(answer_cache_key(ctx, session, run, request))
    if cached is None or not isinstance(cached.get("text"), str):
        return False
    now = ctx.now()
    ledger.settle(
        session,
        run,
        from_status=RunStatus.PENDING,
        changes=RunChanges(
            result_text=cached["text"], cache_hit=True, started_at=now, finished_at=now
        ),
    )
    log.info("run %s answered from the cache", run.id)
    return True


def remember_answer(ctx: StepContext, session: Session, run: Run, agent: Agent, text: str) -> None:
    """Keep a finished answer for identical requests, when every tool it used is pure.

    Runs that don't use the cache return before any query: this sits on every completion."""
    if ctx.cache is None or not run.use_cache:
        return
    names = {call.name for call in store.list_tool_calls(session, run_id=run.id)}
    if not all(name in ctx.tools and ctx.tools.get(name).pure for name in names):
        log.info("run %s not cached: it used tools with side effects", run.id)
        return
    request = build_turn_request(ctx, session, run, agent)
    ctx.cache.put(answer_cache_key(ctx, session, run, request), {"text": text})
