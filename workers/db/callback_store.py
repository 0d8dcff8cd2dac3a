"""SQL for callback deliveries: attempts and the run's callback state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from workers.db.models import CallbackAttempt, Run


def claim_attempt(session: Session, *, run_id: str, attempt: int) -> bool:
    """Record that attempt `attempt` is being made; False if it already was (a redelivered
    message), so each attempt is POSTed at most once."""
    session.add(CallbackAttempt(run_id=run_id, attempt=attempt, error="in flight"))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def finish_attempt(
    session: Session,
    *,
    run_id: str,
    attempt: int,
    status_code: int | None,
    duration_ms: int,
    error: str | None,
) -> None:
    """Record what a claimed attempt got."""
    session.execute(
        update(CallbackAttempt)
        .where(col(CallbackAttempt.run_id) == run_id, col(CallbackAttempt.attempt) == attempt)
        .values(status_code=status_code, duration_ms=duration_ms, error=error)
    )
    session.commit()


def attempts_made(session: Session, *, run_id: str) -> int:
    """How many attempts are recorded for the run."""
    query = (
        select(func.count()).select_from(CallbackAttempt).where(CallbackAttempt.run_id == run_id)
    )
    return int(session.exec(query).one())


def list_attempts(session: Session, *, run_id: str) -> list[CallbackAttempt]:
    """The run's attempts, oldest first."""
    query = select(CallbackAttempt).where(CallbackAttempt.run_id == run_id)
    return list(session.exec(query.order_by(col(CallbackAttempt.id))).all())


def stalled_callbacks(
    session: Session, *, quiet_since: datetime, limit: int = 500
) -> list[tuple[str, int]]:
    """(run id, next attempt) of owed callbacks with no activity since `quiet_since`: their
    message was lost (broker down at the run's end, or a worker died mid-POST)."""
    last_at = func.max(CallbackAttempt.created_at)
    query = (
        select(Run.id, func.max(CallbackAttempt.attempt), last_at)
        .join(CallbackAttempt, col(CallbackAttempt.run_id) == col(Run.id), isouter=True)
        .where(col(Run.callback_state) == "pending", col(Run.updated_at) < quiet_since)
        .group_by(col(Run.id))
        .having(or_(last_at.is_(None), last_at < quiet_since))
        .limit(limit)
    )
    return [(run_id, (made or 0) + 1) for run_id, made, _ in session.exec(query).all()]
