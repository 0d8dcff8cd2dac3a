"""The Celery contract: `send_task("runq.runs.submit_job", kwargs={...})`.

The kwargs are the fields of `POST /v1/runs` plus `idempotency_key` and `api_key_name`
(the owning key's *name*: a secret never travels in a message). A payload that cannot
become a run is logged and recorded as a failed run carrying the reason, so the producer
finds it by idempotency key over HTTP; the message is acked either way and never poisons
the queue.

A job without an idempotency key gets one from its Celery message id, so a redelivered
message (its worker died before the ack) never records a second run. A refusal keeps the
hash of the body it refused: the same key with another body conflicts afterwards, at this
door and over HTTP, as for a run that was accepted.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from config.settings import get_settings
from workers.agent_modules import load_agent_modules
from workers.db import key_store
from workers.db.changes import RunChanges
from workers.db.models import Run
from workers.db.statuses import RunStatus
from workers.errors import (
    CallbackRefused,
    IdempotencyConflict,
    LaneRefused,
    PriceMissing,
    RunNotFound,
    RunqError,
    StartTimeRefused,
    ThreadBusy,
    ToolNameTaken,
    UnknownAgent,
)
from workers.public.actions import submit_tool_outputs
from workers.public.enqueue import enqueue_run, replayed_run
from workers.public.schemas import MAX_INPUT_CHARS, JobCreate, ToolOutputs
from workers.runs import ledger
from workers.runs.context import Next, Nothing
from workers.wiring import new_session

log = logging.getLogger("runq.jobs")

KEY_NAME_FIELD = "api_key_name"
IDEMPOTENCY_FIELD = "idempotency_key"
REJECTED = (
    ValidationError,
    UnknownAgent,
    ThreadBusy,
    CallbackRefused,
    StartTimeRefused,
    ToolNameTaken,
    PriceMissing,
    LaneRefused,
)


def message_key(message_id: str) -> str:
    """The idempotency key of a job sent without one: its Celery message's id."""
    return f"celery-message-{message_id}"


def accept_job(payload: dict[str, Any], message_id: str | None = None) -> str:
    """Record and start the run a message asks for; returns its id.

    Raises IdempotencyConflict when the key was used before with another body (the earlier
    run stays untouched), as HTTP answers 409."""
    settings = get_settings()
    load_agent_modules(settings.runs.agent_modules)  # this worker may not have run a step yet
    payload = dict(payload)
    key_name = payload.pop(KEY_NAME_FIELD, None)
    if payload.get(IDEMPOTENCY_FIELD) is None and message_id:
        payload[IDEMPOTENCY_FIELD] = message_key(message_id)
    try:
        return _record_job(payload, key_name, settings.runs.deadline_s)
    except IdempotencyConflict as exc:
        log.warning("submit_job refused: %s", exc)
        raise


def _record_job(payload: dict[str, Any], key_name: Any, default_deadline_s: float) -> str:
    with new_session() as session:
        owner, owner_error = _owner_of(session, key_name)
        if owner_error is not None:
            return _record_refusal(session, payload, owner, owner_error)
        try:
            job = JobCreate.model_validate(payload)
            run = enqueue_run(
                session, job, default_deadline_s=default_deadline_s, owner_key_id=owner
            )
        except ValidationError as exc:
            return _record_refusal(session, payload, owner, _one_line(exc))
        except REJECTED as exc:
            return _record_refusal(session, payload, owner, str(exc))
    return run.id


def _owner_of(session: Session, key_name: Any) -> tuple[str, str | None]:
    if key_name is None:
        return "", None
    if "\x00" in str(key_name):
        return "", f"{KEY_NAME_FIELD} must not contain NUL (\\u0000) characters"
    row = key_store.find_key_by_name(session, name=str(key_name))
    if row is None or row.revoked_at is not None:
        return "", f"{KEY_NAME_FIELD} {key_name!r} is not a live API key"
    return row.id, None


def _record_refusal(session: Session, payload: dict[str, Any], owner: str, reason: str) -> str:
    """A failed run that says why, findable by the producer's idempotency key (a key the
    database cannot hold is dropped: the reason says so)."""
    key = payload.get(IDEMPOTENCY_FIELD)
    storable_key = isinstance(key, str) and 0 < len(key) <= 256 and "\x00" not in key
    run, created = ledger.open_run(
        session,
        agent=_storable(payload.get("agent", ""))[:128],
        input_text=_storable(payload.get("input", ""))[:MAX_INPUT_CHARS],
        provider="",
        model="",
        deadline_at=datetime.now(UTC),
        idempotency_key=key if storable_key and isinstance(key, str) else None,
        owner_key_id=owner,
        request_hash=_body_hash(payload),
    )
    if not created:
        # The key names a run already: the same refused body again, or another body.
        replayed_run(run, _body_hash(payload))
    if created:
        ledger.end(
            session,
            run,
            status=RunStatus.FAILED,
            from_statuses=[RunStatus.PENDING],
            changes=RunChanges(
                error=f"invalid job: {reason}"[:4000], finished_at=datetime.now(UTC)
            ),
        )
    log.warning("run %s: submit_job payload refused: %s", run.id, reason)
    return run.id


def _one_line(exc: ValidationError) -> str:
    """Pydantic's errors as one line: `field: message; field: message`."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'job'}: {error['msg']}"
        for error in exc.errors()
    )


def _body_hash(payload: dict[str, Any]) -> str:
    """The hash an accepted job with this payload would carry (so a replay of the same body
    over HTTP is the same job), or else a hash of the payload as sent."""
    try:
        return JobCreate.model_validate(payload).request_hash()
    except ValidationError:
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=repr)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _storable(value: Any) -> str:
    """`value` as text PostgreSQL can hold (no NUL characters)."""
    return str(value).replace("\x00", "")


def accept_tool_outputs(payload: dict[str, Any]) -> tuple[Next, str]:
    """`send_task("runq.runs.submit_tool_outputs", kwargs={"run_id", "tool_outputs":
    [{"tool_call_id", "output"}], "api_key_name"?})`: the caller's outputs for a run that
    waits for them. Returns (what to send next, what happened); a refusal is the second
    element, one line, never an exception (the message is acked either way)."""
    payload = dict(payload)
    key_name = payload.pop(KEY_NAME_FIELD, None)
    run_id = payload.pop("run_id", None)
    if not isinstance(run_id, str) or not run_id or "\x00" in run_id:
        return Nothing("refused"), "refused: run_id must be a run's id (a string)"
    try:
        body = ToolOutputs.model_validate(payload)
    except ValidationError as exc:
        return Nothing("refused"), f"refused: {_one_line(exc)}"
    with new_session() as session:
        owner, owner_error = _owner_of(session, key_name)
        if owner_error is not None:
            return Nothing("refused"), f"refused: {owner_error}"
        run = session.get(Run, run_id)
        if run is None or run.owner_key_id != owner:
            return Nothing("refused"), f"refused: {RunNotFound(f'no run with id {run_id!r}')}"
    outputs = [(item.tool_call_id, item.output) for item in body.tool_outputs]
    try:
        next_step = submit_tool_outputs(run_id, outputs, by=owner)
    except RunqError as exc:
        return Nothing("refused"), f"refused: {exc}"
    return next_step, f"run {run_id}: {len(outputs)} tool outputs recorded"
