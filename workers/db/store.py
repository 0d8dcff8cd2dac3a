"""Reading runs, and the tool calls' own rows: keyword-only functions that take a session.

A run's state is written only by `workers.runs.ledger`. A tool call's claim and output are
compare-and-sets on its own row: a redelivered or duplicated message never runs it twice.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    Executable,
    Table,
    Update,
    bindparam,
    literal_column,
    update,
)
from sqlalchemy import select as table_select
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from workers.db.models import Run, ToolCall, utcnow
from workers.db.session_hooks import announce
from workers.db.single_write import execute_single_write
from workers.db.statuses import WAITING_TOOL_STATUSES, ToolCallStatus
from workers.errors import RunNotFound


def status_among(column: ColumnElement[str], statuses: Iterable[str]) -> ColumnElement[bool]:
    """`column IN ('a', 'b')` with the statuses written into the SQL, for statements built
    once: a bound IN list is an expanding parameter, re-rendered into the SQL on every
    execution (a step's UPDATE is otherwise sent as cached SQL). Only status names, which
    are fixed identifiers, are written in."""
    names = sorted(str(s) for s in statuses)
    for name in names:
        if not name.replace("_", "").isalnum():
            raise ValueError(f"not a status name: {name!r}")
    return column.in_([literal_column(f"'{name}'") for name in names])


def find_idempotent_run(session: Session, *, owner_key_id: str, idempotency_key: str) -> Run | None:
    """The run `owner_key_id` created with `idempotency_key`, if any."""
    query = select(Run).where(
        Run.owner_key_id == owner_key_id, Run.idempotency_key == idempotency_key
    )
    return session.exec(query.execution_options(populate_existing=True)).first()


def get_run(session: Session, *, run_id: str) -> Run:
    """Load a run by id, or raise RunNotFound."""
    run = session.exec(_get_run_statement(), params={"run_id": run_id}).first()
    if run is None:
        raise RunNotFound(f"no run with id {run_id!r}")
    return run


def status_and_agent(session: Session, *, run_id: str) -> tuple[str, str]:
    """The run's status and agent name: all a tool call needs to know of its run (one row
    read without building the whole run), or RunNotFound."""
    row = (
        session.connection()
        .execute(select(_RUN.c.status, _RUN.c.agent).where(_RUN.c.id == run_id))
        .first()
    )
    if row is None:
        raise RunNotFound(f"no run with id {run_id!r}")
    return str(row.status), str(row.agent)


def claim_tool_call(
    session: Session, *, run_id: str, call_id: str, now: datetime | None = None
) -> bool:
    """Mark a pending call running. True if this caller now owns it, False if anyone did."""
    started_at = now or utcnow()
    result = execute_single_write(
        session,
        _claim_statement(),
        {"b_run_id": run_id, "b_call_id": call_id, "set_started_at": started_at},
    )
    session.commit()
    claimed = bool(result.rowcount == 1)
    if claimed:
        changes: dict[str, Any] = {
            "status": ToolCallStatus.RUNNING,
            "started_at": started_at,
            "attempts": _ONE_MORE_ATTEMPT,
        }
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


@dataclass(frozen=True, slots=True)
class StoredCall:
    """A recorded tool call as its execution reads it: the row's values, not an object of
    the session (building one was half the CPU of the read, on every tool call)."""

    id: int
    run_id: str
    call_id: str
    turn: int
    name: str
    arguments: str
    status: str
    started_at: datetime | None
    attempts: int


@dataclass(frozen=True, slots=True)
class CallOfRun:
    """A stored tool call with what it needs to know of its run (one SELECT, joined)."""

    call: StoredCall
    run_status: str
    agent: str


def get_call_of_run(session: Session, *, run_id: str, call_id: str) -> CallOfRun | None:
    """The stored call with its run's status and agent, or None."""
    params = {"run_id": run_id, "call_id": call_id}
    row = session.connection().execute(_call_of_run_statement(), params).first()
    if row is None:
        return None
    *call, status, agent = row  # the columns in `_call_of_run_statement`'s order
    return CallOfRun(StoredCall(*call), str(status), str(agent))


@dataclass(frozen=True, slots=True)
class Recorded:
    """A tool call's output was recorded by this caller."""

    left_in_turn: int
    """Calls of the same turn still without an output: 0 means this one finished the turn,
    and its caller submits the turn."""


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
) -> Recorded | None:
    """Record a running call's output (or error output); a finished call is left untouched.
    None if this caller did not record it.

    `attempts` counts executions inside this claim (retryable tools may run more than once).
    `lease` is the start time the caller's claim set: if another worker has taken the call
    over since (its lease ran out), the late writer loses.

    The calls of the turn still running are counted with the write, so that of two calls
    finishing at once the second sees the first's output and exactly one of them finds the
    turn finished. PostgreSQL counts in the same transaction, after a lock on the run's
    row (or both could count the other as running). SQLite has one writer at a time: there
    the UPDATE counts them itself (RETURNING) and commits as it runs (`single_write`)."""
    changes: dict[str, Any] = {
        "status": ToolCallStatus.FAILED if error else ToolCallStatus.SUCCEEDED,
        "output": output,
        "error": error,
        "duration_ms": duration_ms,
        "finished_at": utcnow(),
    }
    if attempts is not None:
        changes["attempts"] = attempts
    params: dict[str, Any] = {f"set_{name}": value for name, value in changes.items()}
    params |= {"b_run_id": run_id, "b_call_id": call_id, "lease": lease}
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        statement = _finish_counting_statement(tuple(changes), with_lease=lease is not None)
        row = execute_single_write(session, statement, params).one_or_none()
        if row is None:
            session.rollback()
            return None
        session.commit()
        left = row.left
    else:
        statement = _finish_statement(tuple(changes), with_lease=lease is not None)
        turn = connection.execute(statement, params).scalar_one_or_none()
        if turn is None:
            session.rollback()
            return None
        connection.execute(_lock_run_statement(), {"run_id": run_id})
        counted = connection.execute(_left_in_turn_statement(), {"run_id": run_id, "turn": turn})
        left = counted.scalar_one()
        session.commit()
    _show_in_session(session, _held_call(session, run_id, call_id), changes)
    outcome = {"call_id": call_id, "status": "failed" if error else "succeeded"}
    announce(session, run_id, "tool_call.finished", {**outcome, "duration_ms": duration_ms})
    return Recorded(left_in_turn=int(left))


_UNFINISHED = [
    ToolCallStatus.PENDING.value,
    ToolCallStatus.RUNNING.value,
    ToolCallStatus.AWAITING_APPROVAL.value,
    ToolCallStatus.AWAITING_OUTPUT.value,
]


# ---- calls that wait for a person or the caller --------------------------------------------
# These write without committing: the caller counts what still waits (`waiting_left`) and,
# if nothing does, moves the run on, all in one transaction.


@dataclass(frozen=True, slots=True)
class Decision:
    """A person's verdict on a call that waits for approval."""

    approve: bool
    by: str
    """The API key id that decided ("" for the operator's CLI)."""
    reason: str | None
    output: str | None = None
    """The error output the model gets for a rejected call."""


def decide_waiting_call(
    session: Session, *, run_id: str, call_id: str, decision: Decision, now: datetime
) -> bool:
    """Approve (pending: it runs) or reject (failed, with its error output) a call that
    waits for approval. False if it no longer waits (decided meanwhile)."""
    changes: dict[str, Any] = {
        "decision": "approved" if decision.approve else "rejected",
        "decided_by": decision.by,
        "decision_reason": decision.reason,
        "decided_at": now,
    }
    if decision.approve:
        changes["status"] = ToolCallStatus.PENDING
    else:
        error = f"rejected: {decision.reason}" if decision.reason else "rejected"
        changes |= {
            "status": ToolCallStatus.FAILED,
            "output": decision.output,
            "error": error,
            "finished_at": now,
            "duration_ms": 0,
        }
    return _update_waiting(session, run_id, call_id, ToolCallStatus.AWAITING_APPROVAL, changes)


def answer_waiting_call(
    session: Session, *, run_id: str, call_id: str, output: str, by: str, now: datetime
) -> bool:
    """Record the caller's output of a call that waits for it. False if it no longer waits."""
    changes: dict[str, Any] = {
        "status": ToolCallStatus.SUCCEEDED,
        "output": output,
        "decided_by": by,
        "decided_at": now,
        "finished_at": now,
    }
    return _update_waiting(session, run_id, call_id, ToolCallStatus.AWAITING_OUTPUT, changes)


def give_up_waiting_call(
    session: Session, *, run_id: str, call_id: str, waited_for: ToolCallStatus, output: str
) -> bool:
    """A waiting call nobody decided or answered in time: failed, with `output` for the model."""
    now = utcnow()
    changes: dict[str, Any] = {
        "status": ToolCallStatus.FAILED,
        "output": output,
        "error": "timed out waiting for "
        + ("approval" if waited_for == "awaiting_approval" else "the caller's output"),
        "finished_at": now,
        "duration_ms": 0,
    }
    return _update_waiting(session, run_id, call_id, waited_for, changes)


def _update_waiting(
    session: Session, run_id: str, call_id: str, waits: ToolCallStatus, changes: dict[str, Any]
) -> bool:
    result = session.connection().execute(
        update(_TOOL_CALLS)
        .where(_TC.run_id == run_id, _TC.call_id == call_id, _TC.status == waits)
        .values(**changes)
    )
    return bool(result.rowcount == 1)


def waiting_left(session: Session, *, run_id: str, turn: int) -> list[tuple[str, str]]:
    """(call id, status) of the turn's calls that still wait, counted after a lock on the
    run's row: of two decisions committing at once, exactly one finds none left (as in
    `finish_tool_call`)."""
    session.connection().execute(select(_RUN_ID).where(run_id == _RUN_ID).with_for_update())
    rows = session.connection().execute(
        select(_TC.call_id, _TC.status)
        .where(_TC.run_id == run_id, _TC.turn == turn)
        .where(_TC.status.in_([s.value for s in WAITING_TOOL_STATUSES]))
        .order_by(_TC.id)
    )
    return [(str(row.call_id), str(row.status)) for row in rows]


def list_tool_calls(session: Session, *, run_id: str, turn: int | None = None) -> list[ToolCall]:
    """A run's tool calls in creation order, optionally for one turn."""
    params = {"run_id": run_id, "turn": turn}
    return list(session.exec(_tool_calls_statement(turn is not None), params=params).all())


@dataclass(frozen=True, slots=True)
class TurnCall:
    """What a submit reads of each call of its turn (a row of values, not a session object)."""

    call_id: str
    name: str
    status: str
    output: str | None


def calls_of_turn(session: Session, *, run_id: str, turn: int) -> list[TurnCall]:
    """The calls of one turn of a run, in creation order, as the submit reads them."""
    rows = session.connection().execute(_turn_calls_statement(), {"run_id": run_id, "turn": turn})
    return [TurnCall(*row) for row in rows]


def list_runs(session: Session, *, batch_id: str) -> list[Run]:
    """Every run of one batch."""
    query = select(Run).where(Run.batch_id == batch_id).execution_options(populate_existing=True)
    return list(session.exec(query).all())


# UPDATEs go to the table, not the mapped class: an ORM UPDATE re-evaluates its WHERE
# against every object the session holds and compiles through the ORM, a sixth of a run
# worker's CPU. `_show_in_session` does the part of that the steps rely on.
_TOOL_CALLS: Table = ToolCall.__table__  # type: ignore[attr-defined]
# Table columns, sent on the session's connection: no ORM statement handling at all.
_TC = _TOOL_CALLS.c
_ONE_MORE_ATTEMPT = _TC.attempts + 1
"""Built once: an expression per claim was 1.7% of the tools worker's profile."""
_RUN: Table = Run.__table__  # type: ignore[attr-defined]
_RUN_ID = _RUN.c.id


# A tool call's statements, built once (with their cache keys): building them on every
# call cost more CPU than running them. Values are bound by name at execution (`b_` for a
# WHERE value where the column's own name is reserved for its SET value).


@functools.cache
def _claim_statement() -> Executable:
    return (
        update(_TOOL_CALLS)
        .where(_TC.run_id == bindparam("b_run_id"), _TC.call_id == bindparam("b_call_id"))
        .where(_TC.status == ToolCallStatus.PENDING.value)
        .values(
            status=ToolCallStatus.RUNNING.value,
            started_at=bindparam("set_started_at", type_=_TC.started_at.type),
            attempts=_ONE_MORE_ATTEMPT,
        )
    )


def _finish(columns: tuple[str, ...], *, with_lease: bool) -> Update:
    statement = (
        update(_TOOL_CALLS)
        .where(_TC.run_id == bindparam("b_run_id"), _TC.call_id == bindparam("b_call_id"))
        .where(_TC.status == ToolCallStatus.RUNNING.value)
    )
    if with_lease:
        statement = statement.where(_TC.started_at == bindparam("lease", type_=_TC.started_at.type))
    values = {name: bindparam(f"set_{name}", type_=_TC[name].type) for name in columns}
    return statement.values(values)


@functools.lru_cache(maxsize=16)
def _finish_statement(columns: tuple[str, ...], *, with_lease: bool) -> Executable:
    return _finish(columns, with_lease=with_lease).returning(_TC.turn)


@functools.lru_cache(maxsize=16)
def _finish_counting_statement(columns: tuple[str, ...], *, with_lease: bool) -> Executable:
    """`_finish_statement` that also returns how many other calls of the turn have no output
    yet. On SQLite only: one writer at a time, so the count sees every output recorded
    before this one."""
    # Written out: SQLAlchemy renders a RETURNING clause's columns without their table,
    # which would leave the subquery comparing each column with itself.
    calls = _TOOL_CALLS.name
    unfinished = ", ".join(f"'{status}'" for status in sorted(_UNFINISHED))
    left: ColumnElement[Any] = literal_column(
        f"(SELECT count(*) FROM {calls} AS other WHERE other.run_id = {calls}.run_id"
        f" AND other.turn = {calls}.turn AND other.call_id != {calls}.call_id"
        f" AND other.status IN ({unfinished}))"
    )
    return _finish(columns, with_lease=with_lease).returning(_TC.turn, left.label("left"))


@functools.cache
def _lock_run_statement() -> Executable:
    return select(_RUN_ID).where(_RUN.c.id == bindparam("run_id")).with_for_update()


@functools.cache
def _left_in_turn_statement() -> Executable:
    return (
        select(func.count())
        .select_from(_TOOL_CALLS)
        .where(_TC.run_id == bindparam("run_id"), _TC.turn == bindparam("turn"))
        .where(status_among(_TC.status, _UNFINISHED))
    )


@functools.cache
def _get_run_statement() -> SelectOfScalar[Run]:
    query = select(Run).where(Run.id == bindparam("run_id"))
    return query.execution_options(populate_existing=True)


@functools.cache
def _call_of_run_statement() -> Executable:
    """The fields of `StoredCall`, in order, then the run's status and agent."""
    calls = _TOOL_CALLS.c
    columns = [calls[field.name] for field in dataclasses.fields(StoredCall)]
    return (
        table_select(*columns, _RUN.c.status, _RUN.c.agent)
        .join(_RUN, _RUN.c.id == calls.run_id)
        .where(calls.run_id == bindparam("run_id"), calls.call_id == bindparam("call_id"))
    )


@functools.cache
def _turn_calls_statement() -> Executable:
    """The fields of `TurnCall`, in order."""
    calls = _TOOL_CALLS.c
    columns = [calls[field.name] for field in dataclasses.fields(TurnCall)]
    return (
        table_select(*columns)
        .where(calls.run_id == bindparam("run_id"), calls.turn == bindparam("turn"))
        .order_by(calls.id)
    )


@functools.cache
def _tool_calls_statement(of_turn: bool) -> SelectOfScalar[ToolCall]:
    query = select(ToolCall).where(ToolCall.run_id == bindparam("run_id"))
    if of_turn:
        query = query.where(ToolCall.turn == bindparam("turn"))
    return query.order_by(col(ToolCall.id)).execution_options(populate_existing=True)


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


def set_run_metadata(session: Session, *, run_id: str, metadata_json: str) -> None:
    """Replace a run's caller labels (no step reads them, so no status fence is needed)."""
    session.execute(update(Run).where(col(Run.id) == run_id).values(metadata_json=metadata_json))
    session.commit()
