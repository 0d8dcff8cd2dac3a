"""The Celery contract: `send_task("runq.runs.submit_job", kwargs={...})`.

The kwargs are the fields of `POST /v1/runs` plus `idempotency_key` and `api_key_name`
(the owning key's *name*: a secret never travels in a message). A payload that cannot
become a run is logged and recorded as a failed run carrying the reason, so the producer
finds it by idempotency key over HTTP; the message is acked either way and never poisons
the queue.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from config.settings import get_settings
from gateway.enqueue import enqueue_run
from gateway.schemas import MAX_INPUT_CHARS, JobCreate
from workers.agents import load_agent_modules
from workers.db import key_store, store
from workers.db.changes import RunChanges
from workers.db.statuses import RunStatus
from workers.errors import CallbackRefused, IdempotencyConflict, ThreadBusy, UnknownAgent
from workers.wiring import new_session

log = logging.getLogger("runq.jobs")

KEY_NAME_FIELD = "api_key_name"
REJECTED = (ValidationError, UnknownAgent, ThreadBusy, CallbackRefused)


def accept_job(payload: dict[str, Any]) -> str:
    """Record and start the run a message asks for; returns its id, or a description of
    why nothing was recorded (an idempotency conflict keeps the earlier run untouched)."""
    settings = get_settings()
    load_agent_modules(settings.runs.agent_modules)  # this worker may not have run a step yet
    payload = dict(payload)
    key_name = payload.pop(KEY_NAME_FIELD, None)
    with new_session() as session:
        owner, owner_error = _owner_of(session, key_name)
        if owner_error is not None:
            return _record_refusal(session, payload, owner, owner_error)
        try:
            job = JobCreate.model_validate(payload)
            run = enqueue_run(
                session, job, default_deadline_s=settings.runs.deadline_s, owner_key_id=owner
            )
        except IdempotencyConflict as exc:
            log.warning("submit_job refused: %s", exc)
            return f"refused: {exc}"
        except REJECTED as exc:
            return _record_refusal(session, payload, owner, str(exc))
    return run.id


def _owner_of(session: Session, key_name: Any) -> tuple[str, str | None]:
    if key_name is None:
        return "", None
    row = key_store.find_key_by_name(session, name=str(key_name))
    if row is None or row.revoked_at is not None:
        return "", f"{KEY_NAME_FIELD} {key_name!r} is not a live API key"
    return row.id, None


def _record_refusal(session: Session, payload: dict[str, Any], owner: str, reason: str) -> str:
    """A failed run that says why, findable by the producer's idempotency key."""
    key = payload.get("idempotency_key")
    run, created = store.create_run(
        session,
        agent=_storable(payload.get("agent", ""))[:128],
        input_text=_storable(payload.get("input", ""))[:MAX_INPUT_CHARS],
        provider="",
        model="",
        deadline_at=datetime.now(UTC),
        idempotency_key=_storable(key) if isinstance(key, str) and 0 < len(key) <= 256 else None,
        owner_key_id=owner,
    )
    if created:
        store.transition(
            session,
            run_id=run.id,
            from_statuses=[RunStatus.PENDING],
            to=RunStatus.FAILED,
            changes=RunChanges(
                error=f"invalid job: {reason}"[:4000], finished_at=datetime.now(UTC)
            ),
        )
    log.warning("run %s: submit_job payload refused: %s", run.id, reason)
    return run.id


def _storable(value: Any) -> str:
    """`value` as text PostgreSQL can hold (no NUL characters)."""
    return str(value).replace("\x00", "")
