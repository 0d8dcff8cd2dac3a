"""A run as the outside world sees it (the CLI and the dashboard): plain JSON-able data."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlmodel import Session, col, select

from config.exit_codes import ExitCode
from gateway.entry_errors import CommandFailed
from workers.errors import RunNotFound
from workers.public.catalog import masked_arguments, scrubbed_text
from workers.public.records import (
    Run,
    RunStatus,
    Thread,
    ToolCall,
    key_store,
    run_pages,
    store,
    thread_store,
)
from workers.public.runtime import new_session
from workers.public.thread_names import split_thread_key


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
        "run_at": run.run_at,
        "finished_at": run.finished_at,
        "tool_calls": [described_call(c) for c in calls],
    }


def described_call(call: ToolCall) -> dict[str, Any]:
    """One tool call, secret arguments masked and scrubbed from its output."""
    return {
        "call_id": call.call_id,
        "name": call.name,
        "arguments": masked_arguments(call.name, call.arguments),
        "status": call.status,
        "output": scrubbed_text(call.output, call.name, call.arguments),
        "duration_ms": call.duration_ms,
        "attempts": call.attempts,
        "decision": call.decision,
        "decision_reason": call.decision_reason,
    }


# What a call in requires_action waits for, by its status: a person, or the caller's output.
WAITS_FOR = {"awaiting_approval": "approval", "awaiting_output": "output"}


def waiting_calls_of(described: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Of described calls (`described_call`), those that wait, with what each waits for."""
    return [
        {
            "call_id": c["call_id"],
            "name": c["name"],
            "arguments": c["arguments"],
            "waits_for": WAITS_FOR[c["status"]],
        }
        for c in described
        if c["status"] in WAITS_FOR
    ]


def read_waiting_runs(
    session: Session, *, agent: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Runs in requires_action, the wait that runs out first first, each with its waiting
    calls. `due_at` is when the wait runs out (the agent's action timeout or the deadline)."""
    query = select(Run).where(Run.status == RunStatus.REQUIRES_ACTION)
    if agent is not None:
        query = query.where(Run.agent == agent)
    query = query.order_by(col(Run.next_due_at), col(Run.created_at)).limit(limit)
    runs = list(session.exec(query.execution_options(populate_existing=True)).all())
    calls = run_pages.tool_calls_of(session, run_ids=[r.id for r in runs])
    return [
        {
            "id": run.id,
            "agent": run.agent,
            "created_at": run.created_at,
            "due_at": run.next_due_at,
            "waiting": waiting_calls_of(described_call(c) for c in calls[run.id]),
        }
        for run in runs
    ]


def waiting_runs(*, agent: str | None, limit: int) -> list[dict[str, Any]]:
    """`read_waiting_runs` on a session of its own."""
    with new_session() as session:
        return read_waiting_runs(session, agent=agent, limit=limit)


def thread_history(key_or_id: str, key_name: str | None = None) -> dict[str, Any]:
    """A thread by the name its caller used (or its id): its runs, oldest first, with their
    tool calls."""
    with new_session() as session:
        thread = _find_thread(session, key_or_id, key_name)
        query = select(Run.id).where(Run.thread_id == thread.id).order_by(col(Run.created_at))
        run_ids = list(session.exec(query).all())
        totals = thread_store.usage_totals(session, thread_id=thread.id)
    return {
        "id": thread.id,
        "external_key": thread.external_key,
        "thread_key": None
        if thread.external_key is None
        else split_thread_key(thread.external_key)[1],
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
    with new_session() as session:
        if thread_key is not None:
            thread_ids = [t.id for t in _threads_named(session, thread_key, owner=None)]
            query = query.where(col(Run.thread_id).in_(thread_ids))
        query = query.order_by(col(Run.created_at).desc()).limit(limit)
        rows = session.exec(query).all()
    return [
        {
            "id": run.id,
            "agent": run.agent,
            "status": run.status,
            "thread_key": None if key is None else split_thread_key(key)[1],
            "created_at": run.created_at,
            "finished_at": run.finished_at,
            "input": run.input,
        }
        for run, key in rows
    ]


def find_thread_id(key_or_id: str, key_name: str | None = None) -> str:
    """The id of the thread with this name (or id); RunNotFound when there is none."""
    with new_session() as session:
        return _find_thread(session, key_or_id, key_name).id


def _find_thread(session: Session, key_or_id: str, key_name: str | None) -> Thread:
    """The thread its caller named `key_or_id` (over HTTP, the CLI or send_task), or the
    thread with that id. A name that several API keys use needs `key_name` to choose."""
    thread = session.get(Thread, key_or_id)
    if thread is not None:
        return thread
    owner = None
    if key_name is not None:
        key = key_store.find_key_by_name(session, name=key_name)
        if key is None:
            raise RunNotFound(f"no API key called {key_name!r} (see `runq keys list`)")
        owner = key.id
    threads = _threads_named(session, key_or_id, owner=owner)
    if not threads:
        raise RunNotFound(f"no thread with key or id {key_or_id!r}")
    if len(threads) > 1:
        names = {k.id: k.name for k in key_store.list_keys(session)}
        owners = ", ".join(
            names.get(split_thread_key(t.external_key or "")[0], "no key") for t in threads
        )
        raise CommandFailed(
            f"thread key {key_or_id!r} is used by several API keys ({owners}): "
            "choose one with --key NAME, or pass the thr_… id",
            ExitCode.BAD_USAGE,
        )
    return threads[0]


def _threads_named(session: Session, name: str, *, owner: str | None) -> list[Thread]:
    """Every live thread a caller named `name`, of one owner ("" = no key) or of any."""
    return [
        thread
        for thread in thread_store.threads_ending_with(session, name=name)
        if thread.external_key is not None
        and split_thread_key(thread.external_key)[1] == name
        and owner in (None, split_thread_key(thread.external_key)[0])
    ]


def has_runs_of_agent(agent: str) -> bool:
    """Whether any run of `agent` was ever recorded."""
    with new_session() as session:
        return session.exec(select(Run.id).where(Run.agent == agent).limit(1)).first() is not None
