"""SQL for callback deliveries: attempts and the run's callback state."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from workers.db.models import CallbackAttempt, Run


def record_attempt(
    session: Session,
    *,
    run_id: str,
    attempt: int,
    status_code: int | None,
    duration_ms: int,
    error: str | None,
) -> None:
    """Append one attempt to the run's delivery log."""
    session.add(
        CallbackAttempt(
            run_id=run_id,
            attempt=attempt,
            status_code=status_code,
            duration_ms=duration_ms,
            error=error,
        )
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


def settle_callback(session: Session, *, run_id: str, state: str) -> bool:
    """Move a pending callback to `state` (delivered | gave_up); False if it was not pending."""
    result = session.execute(
        update(Run)
        .where(col(Run.id) == run_id, col(Run.callback_state) == "pending")
        .values(callback_state=state)
    )
    session.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def claim_callback(session: Session, *, run_id: str) -> bool:
    """In the ending transaction: mark a run with a callback URL as owing one, once."""
    result = session.execute(
        update(Run)
        .where(col(Run.id) == run_id)
        .where(col(Run.callback_url).is_not(None), col(Run.callback_state).is_(None))
        .values(callback_state="pending")
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
