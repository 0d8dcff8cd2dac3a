"""Read-only fleet queries for `/metrics` and the dashboard (all SQL stays in workers/db).

Each is one indexed query: the status index serves the counts, the created_at scan is
bounded by the time window and a LIMIT.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, func, select

from workers.db.models import Run, ToolCall
from workers.db.statuses import TERMINAL_STATUSES

TERMINAL = [status.value for status in TERMINAL_STATUSES]


def count_active_runs(session: Session) -> dict[str, int]:
    """Non-terminal runs by status (the autoscaling signal)."""
    query = (
        select(Run.status, func.count())
        .where(col(Run.status).not_in(TERMINAL))
        .group_by(col(Run.status))
    )
    return dict(session.exec(query).all())


def count_ended_runs(session: Session) -> dict[tuple[str, str], int]:
    """Terminal runs of the whole fleet, by (agent, status): `runq_runs_total` at scrape time."""
    query = (
        select(Run.agent, Run.status, func.count())
        .where(col(Run.status).in_(TERMINAL))
        .group_by(col(Run.agent), col(Run.status))
    )
    return {(agent, status): count for agent, status, count in session.exec(query).all()}


def count_runs_since(session: Session, *, since: datetime) -> dict[str, int]:
    """Runs created since `since`, by status."""
    query = (
        select(Run.status, func.count())
        .where(col(Run.created_at) >= since)
        .group_by(col(Run.status))
    )
    return dict(session.exec(query).all())


def latest_runs(session: Session, *, limit: int = 50) -> list[Run]:
    """The most recently created runs, newest first."""
    query = select(Run).order_by(col(Run.created_at).desc()).limit(limit)
    return list(session.exec(query).all())


def count_tool_calls(session: Session, *, run_ids: list[str]) -> dict[str, int]:
    """How many tool calls each of `run_ids` made."""
    if not run_ids:
        return {}
    query = (
        select(ToolCall.run_id, func.count())
        .where(col(ToolCall.run_id).in_(run_ids))
        .group_by(col(ToolCall.run_id))
    )
    return dict(session.exec(query).all())
