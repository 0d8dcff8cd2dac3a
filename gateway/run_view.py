"""A run as the outside world sees it (CLI and, later, HTTP): plain JSON-able data."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import col, select

from workers.db import store, thread_store
from workers.db.models import Run, Thread
from workers.errors import RunNotFound
from workers.tools.masking import masked_arguments, scrubbed_text
from workers.wiring import new_session


def describe_run(run_id: str) -> dict[str, Any]:
    """Status, result or error, usage, counts and tool calls of one run."""
    with new_session() as session:
        run = store.get_run(session, run_id=run_id)
        calls = store.list_tool_calls(session, run_id=run_id)
    return {
        "id": run.id,
        "agent": run.agent,
        "input": run.input,
        "status": run.status,
        "model": run.model,
        "result": run.result_text,
        "error": run.error,
        "polls": run.poll_count,
        "turns": run.turn,
        "thread_id": run.thread_id,
        "metadata": json.loads(run.metadata_json) if run.metadata_json else {},
        "cache_hit": run.cache_hit,
        "structured_result": None if run.result_json is None else json.loads(run.result_json),
        "usage": {
            "input_tokens": run.input_tokens,
            "output_tokens": run.output_tokens,
            "cached_tokens": run.cached_tokens,
            "cost_usd": round(run.cost_usd, 6),
        },
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "tool_calls": [
            {
                "call_id": c.call_id,
                "name": c.name,
                "arguments": masked_arguments(c.name, c.arguments),
                "status": c.status,
                "output": scrubbed_text(c.output, c.name, c.arguments),
                "duration_ms": c.duration_ms,
                "attempts": c.attempts,
            }
            for c in calls
        ],
    }


def thread_history(key_or_id: str) -> dict[str, Any]:
    """A thread by external key (or id): its runs, oldest first, with their tool calls."""
    with new_session() as session:
        thread = session.exec(select(Thread).where(Thread.external_key == key_or_id)).first()
        thread = thread or session.get(Thread, key_or_id)
        if thread is None:
            raise RunNotFound(f"no thread with key or id {key_or_id!r}")
        query = select(Run.id).where(Run.thread_id == thread.id).order_by(col(Run.created_at))
        run_ids = list(session.exec(query).all())
        totals = thread_store.usage_totals(session, thread_id=thread.id)
    return {
        "id": thread.id,
        "external_key": thread.external_key,
        "provider_ref": thread.provider_ref,
        "last_activity_at": thread.last_activity_at,
        "archived_at": thread.archived_at,
        "usage": totals,
        "runs": [describe_run(run_id) for run_id in run_ids],
    }


def list_runs(
    *, status: str | None, agent: str | None, thread_key: str | None, limit: int
) -> list[dict[str, Any]]:
    """The newest runs first, filtered; each as a short summary (no tool calls)."""
    query = select(Run, Thread.external_key).join(
        Thread, col(Run.thread_id) == col(Thread.id), isouter=True
    )
    if status is not None:
        query = query.where(Run.status == status)
    if agent is not None:
        query = query.where(Run.agent == agent)
    if thread_key is not None:
        query = query.where(Thread.external_key == thread_key)
    query = query.order_by(col(Run.created_at).desc()).limit(limit)
    with new_session() as session:
        rows = session.exec(query).all()
    return [
        {
            "id": run.id,
            "agent": run.agent,
            "status": run.status,
            "thread_key": key,
            "created_at": run.created_at,
            "finished_at": run.finished_at,
            "input": run.input,
        }
        for run, key in rows
    ]


def find_thread_id(key_or_id: str) -> str:
    """The id of the thread with this external key (or id); RunNotFound when there is none."""
    with new_session() as session:
        thread = session.exec(select(Thread).where(Thread.external_key == key_or_id)).first()
        thread = thread or session.get(Thread, key_or_id)
    if thread is None:
        raise RunNotFound(f"no thread with key or id {key_or_id!r}")
    return thread.id


def has_runs_of_agent(agent: str) -> bool:
    """Whether any run of `agent` was ever recorded."""
    with new_session() as session:
        return session.exec(select(Run.id).where(Run.agent == agent).limit(1)).first() is not None
