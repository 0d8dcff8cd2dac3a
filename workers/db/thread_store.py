"""SQL for threads and usage roll-ups: keyword-only functions that take a session."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from workers.db.models import Run, Thread, utcnow
from workers.db.statuses import TERMINAL_STATUSES, RunStatus
from workers.errors import RunNotFound


def get_or_create_thread(session: Session, *, external_key: str, agent: str) -> Thread:
    """The live thread for `external_key`, created on first use (races resolve to one row)."""
    query = select(Thread).where(Thread.external_key == external_key)
    thread = session.exec(query).first()
    if thread is not None:
        return thread
    thread = Thread(external_key=external_key, agent=agent)
    session.add(thread)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return session.exec(query).one()
    session.refresh(thread)
    return thread


def threads_ending_with(session: Session, *, name: str) -> list[Thread]:
    """Live threads whose stored key is `name` or ends with `/name`: every owner's thread
    that a caller may have called `name` (the caller filters the exact ones)."""
    query = select(Thread).where(
        (col(Thread.external_key) == name)
        | col(Thread.external_key).endswith("/" + name, autoescape=True)
    )
    return list(session.exec(query.order_by(col(Thread.created_at))).all())


def get_thread(session: Session, *, thread_id: str) -> Thread:
    """Load a thread by id, or raise RunNotFound."""
    thread = session.get(Thread, thread_id, populate_existing=True)
    if thread is None:
        raise RunNotFound(f"no thread with id {thread_id!r}")
    return thread


def active_runs_on_thread(
    session: Session, *, thread_id: str, queued_before: datetime | None = None
) -> list[Run]:
    """Non-terminal runs of a thread in the order they queue for it (optionally only those
    queued before a moment). A run queues when it may start: at its `run_at`, if it has one,
    so a run waiting for a time holds no place in its thread until then."""
    queued_at = func.coalesce(col(Run.run_at), col(Run.created_at))
    query = (
        select(Run)
        .where(Run.thread_id == thread_id)
        .where(col(Run.status).not_in([s.value for s in TERMINAL_STATUSES]))
        .order_by(queued_at)
        .execution_options(populate_existing=True)
    )
    if queued_before is not None:
        query = query.where(queued_at < queued_before)
    return list(session.exec(query).all())


def finished_runs_on_thread(session: Session, *, thread_id: str, before: datetime) -> list[Run]:
    """Completed runs of a thread enqueued before `before`, oldest first (its history)."""
    query = (
        select(Run)
        .where(Run.thread_id == thread_id, Run.status == RunStatus.COMPLETED.value)
        .where(col(Run.created_at) < before)
        .order_by(col(Run.created_at))
    )
    return list(session.exec(query).all())


def set_thread_ref(
    session: Session, *, thread_id: str, provider_ref: str, only_if_unset: bool
) -> str:
    """Record the thread's provider reference; returns the one that is now stored."""
    statement = update(Thread).where(col(Thread.id) == thread_id)
    if only_if_unset:
        statement = statement.where(col(Thread.provider_ref).is_(None))
    session.execute(statement.values(provider_ref=provider_ref, last_activity_at=utcnow()))
    session.commit()
    return get_thread(session, thread_id=thread_id).provider_ref or provider_ref


def touch_thread(session: Session, *, thread_id: str) -> None:
    """Note activity on a thread (retention counts from the last one)."""
    session.execute(
        update(Thread).where(col(Thread.id) == thread_id).values(last_activity_at=utcnow())
    )
    session.commit()


def archive_idle_threads(session: Session, *, idle_before: datetime) -> list[Thread]:
    """Archive live threads idle since `idle_before`: the key is freed for a new thread and
    the provider reference dropped; runs keep their results."""
    query = (
        select(Thread)
        .where(col(Thread.archived_at).is_(None))
        .where(col(Thread.last_activity_at) < idle_before)
    )
    threads = list(session.exec(query).all())
    for thread in threads:
        thread.archived_at = utcnow()
        thread.external_key = None
        session.add(thread)
    session.commit()
    return threads


def usage_totals(
    session: Session, *, agent: str | None = None, thread_id: str | None = None
) -> dict[str, float]:
    """Summed tokens and cost of runs, for one agent and/or one thread."""
    query = sqlalchemy.select(
        func.count(),
        func.coalesce(func.sum(Run.input_tokens), 0),
        func.coalesce(func.sum(Run.output_tokens), 0),
        func.coalesce(func.sum(Run.cached_tokens), 0),
        func.coalesce(func.sum(Run.cost_usd), 0.0),
    )
    if agent is not None:
        query = query.where(col(Run.agent) == agent)
    if thread_id is not None:
        query = query.where(col(Run.thread_id) == thread_id)
    runs, input_tokens, output_tokens, cached_tokens, cost = session.execute(query).one()
    return {
        "runs": runs,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cached_tokens": cached_tokens,
        "cost_usd": float(cost),
    }


def create_named_thread(
    session: Session, *, thread_id: str, external_key: str, metadata_json: str | None
) -> Thread:
    """Insert a thread with a caller-facing id (`thread_…`, the Assistants-compatible API),
    stored under its owner-scoped key like any named thread."""
    thread = Thread(id=thread_id, external_key=external_key, metadata_json=metadata_json)
    session.add(thread)
    session.commit()
    return thread


def set_thread_metadata(session: Session, *, thread_id: str, metadata_json: str) -> None:
    """Replace a thread's caller labels."""
    session.execute(
        update(Thread).where(col(Thread.id) == thread_id).values(metadata_json=metadata_json)
    )
    session.commit()


def archive_thread(session: Session, *, thread_id: str) -> None:
    """Archive one thread now, as retention would: its key is freed, its runs stay."""
    session.execute(
        update(Thread)
        .where(col(Thread.id) == thread_id)
        .values(archived_at=utcnow(), external_key=None, provider_ref=None)
    )
    session.commit()
