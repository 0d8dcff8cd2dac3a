"""Rows to public shapes: what a caller of the HTTP API (or the client) sees of a run.

Secret tool arguments are masked here (workers/tools/masking.py): this view is what the API,
its event stream and callbacks send. Thread keys are stored scoped by owner (`key_…/user-42`);
callers get their own key back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlmodel import Session, col, select

from workers.db import run_pages
from workers.db.models import Run, Thread, ToolCall
from workers.public.schemas import RunPublic, ThreadPublic, ToolCallPublic, UsagePublic
from workers.public.thread_names import split_thread_key
from workers.tools.masking import masked_arguments, scrubbed_text


def unscoped_thread_key(external_key: str | None) -> str | None:
    """The caller's own thread key from the stored, owner-scoped one."""
    return None if external_key is None else split_thread_key(external_key)[1]


def run_public(run: Run, calls: Sequence[ToolCall], thread_key: str | None) -> RunPublic:
    """One run, its tool calls and its thread key as the API shows them."""
    return RunPublic(
        id=run.id,
        agent=run.agent,
        status=run.status,
        input=run.input,
        model=run.model,
        output_text=run.result_text,
        structured_output=None if run.result_json is None else json.loads(run.result_json),
        error=run.error,
        usage=UsagePublic(
            input_tokens=run.input_tokens,
            output_tokens=run.output_tokens,
            cached_tokens=run.cached_tokens,
            cost_usd=round(run.cost_usd, 6),
        ),
        tool_calls=[
            ToolCallPublic(
                call_id=c.call_id,
                name=c.name,
                arguments=masked_arguments(c.name, c.arguments),
                status=c.status,
                output=scrubbed_text(c.output, c.name, c.arguments),
                error=scrubbed_text(c.error, c.name, c.arguments),
                duration_ms=c.duration_ms,
                attempts=c.attempts,
                decision=c.decision,
                decision_reason=c.decision_reason,
            )
            for c in calls
        ],
        thread_key=unscoped_thread_key(thread_key),
        idempotency_key=run.idempotency_key,
        metadata=json.loads(run.metadata_json) if run.metadata_json else {},
        callback_url=run.callback_url,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        deadline_at=run.deadline_at,
        run_at=run.run_at,
        max_cost_usd=run.max_cost_usd,
        lane=run.lane,
        lane_fallback=run.lane_fallback,
    )


def runs_public(session: Session, runs: Sequence[Run]) -> list[RunPublic]:
    """Several runs, with their tool calls and thread keys read in two queries."""
    calls = run_pages.tool_calls_of(session, run_ids=[r.id for r in runs])
    thread_ids = {r.thread_id for r in runs if r.thread_id}
    keys: dict[str, str | None] = {}
    if thread_ids:
        query = select(Thread.id, Thread.external_key).where(col(Thread.id).in_(thread_ids))
        keys = dict(session.exec(query).all())
    return [
        run_public(r, calls[r.id], keys.get(r.thread_id) if r.thread_id else None) for r in runs
    ]


def thread_public(session: Session, thread: Thread) -> ThreadPublic:
    """A thread with all its runs, oldest first."""
    runs = run_pages.runs_of_thread(session, thread_id=thread.id)
    return ThreadPublic(
        thread_key=unscoped_thread_key(thread.external_key) or thread.id,
        created_at=thread.created_at,
        last_activity_at=thread.last_activity_at,
        archived_at=thread.archived_at,
        runs=runs_public(session, runs),
    )
