"""All SQL in one place: keyword-only functions that take a session.

A run transition is one transaction whose UPDATE checks the expected current status (and,
for polls, the poll sequence number): two workers racing on the same run cannot both win,
so a duplicate or stale message turns into `IllegalTransition` instead of a double step.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ClauseElement, Table, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, func, select

from workers.db.callback_store import claim_callback
from workers.db.changes import RunChanges
from workers.db.models import Run, ToolCall, utcnow
from workers.db.session_hooks import announce, announce_tool_turn, send_callback
from workers.db.statuses import (
    TERMINAL_STATUSES,
    RunStatus,
    ToolCallStatus,
    event_type_for_status,
    is_terminal,
)
from workers.errors import IllegalTransition, RunNotFound
from workers.providers.interface import ToolCallRequest, Usage

NO_CHANGES = RunChanges()


def create_run(
    session: Session,
    *,
    agent: str,
    input_text: str,
    provider: str,
    model: str,
    deadline_at: datetime,
    idempotency_key: str | None = None,
    batch_id: str | None = None,
    thread_id: str | None = None,
    use_cache: bool = False,
    model_hint: str | None = None,
    owner_key_id: str = "",
    request_hash: str | None = None,
    metadata_json: str | None = None,
    callback_url: str | None = None,
) -> tuple[Run, bool]:
    """Insert a pending run; with an idempotency key this owner used before, return that
    run instead. Returns (run, created).
    """
    if idempotency_key is not None:
        existing = find_idempotent_run(
            session, owner_key_id=owner_key_id, idempotency_key=idempotency_key
        )
        if existing is not None:
            return existing, False
    run = Run(
        agent=agent,
        input=input_text,
        provider=provider,
        model=model,
        deadline_at=deadline_at,
        idempotency_key=idempotency_key,
        batch_id=batch_id,
        thread_id=thread_id,
        use_cache=use_cache,
        model_hint=model_hint,
        next_due_at=utcnow(),  # if the start message is never sent, the sweep sends it
        owner_key_id=owner_key_id,
        request_hash=request_hash,
        metadata_json=metadata_json,
        callback_url=callback_url,
    )
    session.add(run)
    try:
        session.commit()
    except IntegrityError:
        # Another enqueuer won the race for the same idempotency key.
        session.rollback()
        winner = find_idempotent_run(
            session, owner_key_id=owner_key_id, idempotency_key=idempotency_key or ""
        )
        if winner is None:
            raise
        return winner, False
    session.refresh(run)
    return run, True


def find_idempotent_run(session: Session, *, owner_key_id: str, idempotency_key: str) -> Run | None:
    """The run `owner_key_id` created with `idempotency_key`, if any."""
    query = select(Run).where(
        Run.owner_key_id == owner_key_id, Run.idempotency_key == idempotency_key
    )
    return session.exec(query.execution_options(populate_existing=True)).first()


def get_run(session: Session, *, run_id: str) -> Run:
    """Load a run by id, or raise RunNotFound."""
    run = session.get(Run, run_id, populate_existing=True)
    if run is None:
        raise RunNotFound(f"no run with id {run_id!r}")
    return run


def transition(
    session: Session,
    *,
    run_id: str,
    from_statuses: Collection[RunStatus],
    to: RunStatus,
    at_step: int | None = None,
    usage: Usage | None = None,
    changes: RunChanges = NO_CHANGES,
    first_turn: bool = False,
) -> None:
    """Move a run to `to` only if it is in one of `from_statuses` (and at step `at_step`,
    and, with `first_turn`, has no provider turn yet), writing `changes` in the same
    statement.

    Atomic compare-and-set; raises IllegalTransition when the run was elsewhere. `usage` is
    added to the run's token totals in the same statement. A copy of the run this session
    already holds shows the change afterwards: callers need not load it again.
    """
    _compare_and_set(
        session,
        run_id=run_id,
        from_statuses=from_statuses,
        to=to,
        at_step=at_step,
        usage=usage,
        changes=changes,
        first_turn=first_turn,
    )
    callback_due = is_terminal(to) and claim_callback(session, run_id=run_id)
    session.commit()
    if list(from_statuses) != [to]:  # a poll that saw no change is not news
        announce(session, run_id, event_type_for_status(to.value), {"status": to.value})
    if callback_due:
        send_callback(session, run_id)


def record_tool_turn(
    session: Session,
    *,
    run_id: str,
    at_step: int,
    turn: int,
    calls: Sequence[ToolCallRequest],
    usage: Usage | None,
    changes: RunChanges = NO_CHANGES,
) -> None:
    """In one transaction: move the run to requires_tools and insert its pending tool calls.

    Calls already present (same run id + call id) are kept as they are, so a replayed poll
    never resets a call that ran.
    """
    _compare_and_set(
        session,
        run_id=run_id,
        from_statuses=[RunStatus.IN_PROGRESS],
        to=RunStatus.REQUIRES_TOOLS,
        at_step=at_step,
        usage=usage,
        changes=changes | RunChanges(turn=turn, step_seq=at_step + 1),
    )
    known = set(session.exec(select(ToolCall.call_id).where(ToolCall.run_id == run_id)).all())
    for call in calls:
        if call.call_id not in known:
            session.add(
                ToolCall(
                    run_id=run_id,
                    call_id=call.call_id,
                    turn=turn,
                    name=call.name,
                    arguments=call.arguments,
                )
            )
    session.commit()
    announce_tool_turn(session, run_id, turn, calls)


def claim_tool_call(
    session: Session, *, run_id: str, call_id: str, now: datetime | None = None
) -> bool:
    """Mark a pending call running. True if this caller now owns it, False if anyone did."""
    changes: dict[str, Any] = {
        "status": ToolCallStatus.RUNNING,
        "started_at": now or utcnow(),
        "attempts": col(ToolCall.attempts) + 1,
    }
    result = session.execute(
        update(_TOOL_CALLS)
        .where(col(ToolCall.run_id) == run_id, col(ToolCall.call_id) == call_id)
        .where(col(ToolCall.status) == ToolCallStatus.PENDING)
        .values(**changes)
    )
    session.commit()
    claimed = bool(result.rowcount == 1)  # type: ignore[attr-defined]
    if claimed:
        _show_in_session(session, _held_call(session, run_id, call_id), changes)
        announce(session, run_id, "tool_call.started", {"call_id": call_id})
    return claimed


def get_tool_call(session: Session, *, run_id: str, call_id: str) -> ToolCall | None:
    """The stored call, or None."""
    return session.exec(
        select(ToolCall)
        .where(ToolCall.run_id == run_id, ToolCall.call_id == call_id)
        .execution_options(populate_existing=True)
    ).first()


def finish_tool_call(
    session: Session,
    *,
    run_id: str,
    call_id: str,
    output: str,
    error: str | None,
    duration_ms: int,
    attempts: int | None = None,
    lease: datetime | None = None,
) -> bool:
    """Record a running call's output (or error output); a finished call is left untouched.
    True if this caller recorded it.

    `attempts` counts executions inside this claim (retryable tools may run more than once).
    `lease` is the start time the caller's claim set: if another worker has taken the call
    over since (its lease ran out), the late writer loses."""
    changes: dict[str, Any] = {
        "status": ToolCallStatus.FAILED if error else ToolCallStatus.SUCCEEDED,
        "output": output,
        "error": error,
        "duration_ms": duration_ms,
        "finished_at": utcnow(),
    }
    if attempts is not None:
        changes["attempts"] = attempts
    statement = (
        update(_TOOL_CALLS)
        .where(col(ToolCall.run_id) == run_id, col(ToolCall.call_id) == call_id)
        .where(col(ToolCall.status) == ToolCallStatus.RUNNING)
    )
    if lease is not None:
        statement = statement.where(col(ToolCall.started_at) == lease)
    result = session.execute(statement.values(**changes))
    session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    _show_in_session(session, _held_call(session, run_id, call_id), changes)
    outcome = {"call_id": call_id, "status": "failed" if error else "succeeded"}
    announce(session, run_id, "tool_call.finished", {**outcome, "duration_ms": duration_ms})
    return True


def list_tool_calls(session: Session, *, run_id: str, turn: int | None = None) -> list[ToolCall]:
    """A run's tool calls in creation order, optionally for one turn."""
    query = select(ToolCall).where(ToolCall.run_id == run_id)
    if turn is not None:
        query = query.where(ToolCall.turn == turn)
    query = query.order_by(col(ToolCall.id)).execution_options(populate_existing=True)
    return list(session.exec(query).all())


def list_runs(session: Session, *, batch_id: str) -> list[Run]:
    """Every run of one batch."""
    query = select(Run).where(Run.batch_id == batch_id).execution_options(populate_existing=True)
    return list(session.exec(query).all())


def count_attempt(session: Session, *, run_id: str, status: RunStatus) -> None:
    """Count one failed attempt at the run's current step (if it is still in `status`)."""
    session.execute(
        update(Run)
        .where(col(Run.id) == run_id, col(Run.status) == status.value)
        .values(attempts=col(Run.attempts) + 1, updated_at=utcnow())
    )
    session.commit()


def _compare_and_set(
    session: Session,
    *,
    run_id: str,
    from_statuses: Collection[RunStatus],
    to: RunStatus,
    at_step: int | None,
    usage: Usage | None,
    changes: RunChanges,
    first_turn: bool = False,
) -> None:
    statement = (
        update(_RUNS)
        .where(col(Run.id) == run_id)
        .where(col(Run.status).in_([s.value for s in from_statuses]))
    )
    if at_step is not None:
        statement = statement.where(col(Run.step_seq) == at_step)
    if first_turn:
        statement = statement.where(col(Run.provider_ref).is_(None))
    # Any transition is progress: the sweep's re-send count starts over, and a run that
    # ended leaves the sweep's index.
    values: dict[str, Any] = {"status": to.value, "updated_at": utcnow(), "recoveries": 0}
    if to in TERMINAL_STATUSES:
        values["next_due_at"] = None
    values |= changes.columns()
    if usage is not None:
        values["input_tokens"] = col(Run.input_tokens) + usage.input_tokens
        values["output_tokens"] = col(Run.output_tokens) + usage.output_tokens
        values["cached_tokens"] = col(Run.cached_tokens) + usage.cached_tokens
    result = session.execute(statement.values(**values))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        current = session.get(Run, run_id, populate_existing=True)
        found = current.status if current else "missing"
        raise IllegalTransition(
            f"run {run_id}: expected {sorted(s.value for s in from_statuses)}"
            f"{'' if at_step is None else f' at step {at_step}'}, found {found}"
        )
    held = session.identity_map.get(session.identity_key(Run, run_id))
    _show_in_session(session, held, values)


# UPDATEs go to the tables, not the mapped classes: an ORM UPDATE re-evaluates its WHERE
# against every object the session holds and compiles through the ORM, a sixth of a run
# worker's CPU. `_show_in_session` does the part of that the steps rely on.
_RUNS: Table = Run.__table__  # type: ignore[attr-defined]
_TOOL_CALLS: Table = ToolCall.__table__  # type: ignore[attr-defined]


def _held_call(session: Session, run_id: str, call_id: str) -> ToolCall | None:
    """The session's own copy of a tool call, if it loaded one."""
    for held in session.identity_map.values():
        if isinstance(held, ToolCall) and (held.run_id, held.call_id) == (run_id, call_id):
            return held
    return None


def _show_in_session(session: Session, held: object | None, changes: dict[str, Any]) -> None:
    """Make a row this session already holds show an UPDATE it committed: plain values are
    set, computed ones (counters) are read again on next access."""
    if held is None:
        return
    computed = [name for name, value in changes.items() if isinstance(value, ClauseElement)]
    for name, value in changes.items():
        if name not in computed:
            set_committed_value(held, name, value)
    if computed:
        session.expire(held, computed)


def count_runs_by_status(session: Session, *, batch_id: str) -> dict[str, int]:
    """How many runs of a batch are in each status."""
    query = (
        select(Run.status, func.count()).where(Run.batch_id == batch_id).group_by(col(Run.status))
    )
    return dict(session.exec(query).all())


def batch_tool_calls(session: Session, *, batch_id: str) -> list[ToolCall]:
    """Every tool call of a batch's runs."""
    query = (
        select(ToolCall)
        .join(Run, col(Run.id) == col(ToolCall.run_id))
        .where(Run.batch_id == batch_id)
    )
    return list(session.exec(query).all())
