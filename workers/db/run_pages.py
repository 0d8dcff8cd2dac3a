"""SQL for reading runs on behalf of one owner: the HTTP API's view of the store.

Every query here filters on `owner_key_id`, so one key can never read another's runs;
the one exception, `find_run_by_provider_ref`, serves the provider's signed webhooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from workers.db.models import Run, Thread, ToolCall
from workers.errors import RunNotFound


@dataclass(frozen=True, slots=True)
class RunFilter:
    """What a list asks for; `after` is the (created_at, id) of the last run already seen."""

    owner_key_id: str
    status: str | None = None
    agent: str | None = None
    thread_id: str | None = None
    idempotency_key: str | None = None
    after: tuple[datetime, str] | None = None
    limit: int = 20


def get_owned_run(session: Session, *, owner_key_id: str, run_id: str) -> Run:
    """The run if `owner_key_id` owns it; RunNotFound otherwise (the same answer either
    way, so a caller cannot probe which ids exist)."""
    run = session.get(Run, run_id, populate_existing=True)
    if run is None or run.owner_key_id != owner_key_id:
        raise RunNotFound(f"no run with id {run_id!r}")
    return run


def list_owned_runs(session: Session, *, page: RunFilter) -> list[Run]:
    """One page of the owner's runs, newest first (ties broken by id)."""
    query = select(Run).where(Run.owner_key_id == page.owner_key_id)
    if page.status is not None:
        query = query.where(Run.status == page.status)
    if page.agent is not None:
        query = query.where(Run.agent == page.agent)
    if page.thread_id is not None:
        query = query.where(Run.thread_id == page.thread_id)
    if page.idempotency_key is not None:
        query = query.where(Run.idempotency_key == page.idempotency_key)
    if page.after is not None:
        created_at, run_id = page.after
        query = query.where(
            or_(
                col(Run.created_at) < created_at,
                and_(col(Run.created_at) == created_at, col(Run.id) < run_id),
            )
        )
    query = query.order_by(col(Run.created_at).desc(), col(Run.id).desc()).limit(page.limit)
    return list(session.exec(query.execution_options(populate_existing=True)).all())


def tool_calls_of(session: Session, *, run_ids: Sequence[str]) -> dict[str, list[ToolCall]]:
    """The tool calls of several runs in one query, grouped by run, in creation order."""
    calls: dict[str, list[ToolCall]] = {run_id: [] for run_id in run_ids}
    if not run_ids:
        return calls
    query = select(ToolCall).where(col(ToolCall.run_id).in_(run_ids)).order_by(col(ToolCall.id))
    for call in session.exec(query.execution_options(populate_existing=True)).all():
        calls[call.run_id].append(call)
    return calls


def find_thread(session: Session, *, external_key: str) -> Thread | None:
    """The thread with this (owner-scoped) external key, or None."""
    return session.exec(select(Thread).where(Thread.external_key == external_key)).first()


def runs_of_thread(session: Session, *, thread_id: str) -> list[Run]:
    """A thread's runs, oldest first."""
    query = select(Run).where(Run.thread_id == thread_id).order_by(col(Run.created_at))
    return list(session.exec(query).all())


def find_run_by_provider_ref(session: Session, *, provider_ref: str) -> Run | None:
    """The run whose current turn is `provider_ref` at the provider, if any."""
    query = select(Run).where(Run.provider_ref == provider_ref)
    return session.exec(query.execution_options(populate_existing=True)).first()
