"""The ledger: every write of a run's state, and what follows each one.

A run's row is written here and nowhere else. Each verb is one compare-and-set UPDATE of
the run row, guarded by the status (and, for steps, the step sequence) the caller saw,
that writes the status, the counters and `next_due_at` together and commits: two workers
racing on one run cannot both win, and the loser gets `IllegalTransition` instead of a
double step. The session's own copy of the run shows the change afterwards, so a step
never reads its run twice.

What follows a committed transition is declared once, in `_follow`, and happens on every
path that moves a run (a step, the sweep, a cancel over HTTP, a refused job):
- the run's event (its stream, for `runq watch` and the HTTP event feed), and a
  `run.handoff` event when a submit hands the run to another agent;
- the log line and metrics: `run_moved` for a status change, `run_ended` (the end report:
  duration, tokens, cost) for a terminal one;
- the owed callback, claimed in the same UPDATE that ends the run, sent after the commit.

The step lifecycle, as verbs:

    open_run ─► claim_start ─► await_model ◄──────────────┐
                 (retake_start)   │    │    │             │
                                  │    │    └► run_tools ─► claim_submit
                                  │    │         │    ▲       (release_submit)
                                  │    │         ▼    │
                                  │    │  (requires_action) ─► resume_tools
                                  │    └► settle (completed)
                                  └► end (failed | expired | cancelled)

plus the bookkeeping that never changes a status: `note_due` (when the next message is
due, or that it is parked), `extend_lease`, `count_attempt`, the sweep's `unpark` and
`mark_resent`, and fair shares' `admit`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, Executable, Table, bindparam, insert, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from workers.db.changes import RunChanges
from workers.db.models import Run, ToolCall, utcnow
from workers.db.session_hooks import (
    announce,
    announce_tool_turn,
    request_admission,
    send_action_callback,
    send_callback,
)
from workers.db.single_write import execute_single_write
from workers.db.statuses import (
    TERMINAL_STATUSES,
    RunStatus,
    ToolCallStatus,
    event_type_for_status,
    is_terminal,
)
from workers.db.store import find_idempotent_run, get_run, status_among
from workers.errors import IllegalTransition
from workers.observability import events
from workers.providers.interface import ToolCallRequest, Usage
from workers.runs.reporting import report_end

log = logging.getLogger("runq.runs")

NO_CHANGES = RunChanges()
NOT_TERMINAL = [s for s in RunStatus if s not in TERMINAL_STATUSES]

# UPDATEs go to the tables, not the mapped classes: an ORM UPDATE re-evaluates its WHERE
# against every object the session holds and compiles through the ORM, a sixth of a run
# worker's CPU. `_show` does the part of that the steps rely on.
# Written with the table's own columns and sent on the session's connection, they skip the
# ORM's statement handling altogether (a fifth of a step's CPU, even for a table UPDATE).
_RUNS: Table = Run.__table__  # type: ignore[attr-defined]
_TOOL_CALLS: Table = ToolCall.__table__  # type: ignore[attr-defined]
_C = _RUNS.c


def _execute(session: Session, statement: Executable, rows: Any = None) -> CursorResult[Any]:
    """A Core statement on the session's connection, in the session's transaction."""
    return session.connection().execute(statement, rows)


def _commit_one(session: Session, statement: Executable, params: Any = None) -> CursorResult[Any]:
    """A statement that is the rest of its transaction, committed (on SQLite within the
    statement itself when nothing was written before it: see `single_write`)."""
    result = execute_single_write(session, statement, params)
    session.commit()
    return result


@dataclass(frozen=True, slots=True)
class Due:
    """When the run's next message should have done its work; `parked`: no message is sent,
    the sweep sends the step at `at` (a wait longer than a broker countdown may be)."""

    at: datetime
    parked: bool = False


# ---- a run is born ------------------------------------------------------------------------


def open_run(
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
    caller_tools: str | None = None,
    run_at: datetime | None = None,
    lane: str = "standard",
    guard: Callable[[Session, Run], bool] | None = None,
    run_id: str | None = None,
    max_cost_usd: float | None = None,
    share_waiting: bool = False,
) -> tuple[Run, bool]:
    """Insert a pending run; with an idempotency key this owner used before, return that
    run instead. Returns (run, created).

    A run with a `run_at` still ahead is parked until then: no message is sent for it, the
    sweep sends its start when it is due. `guard` is a write that must succeed in the same
    transaction as the insert (a schedule claiming its tick); when it returns False nothing
    is written and IllegalTransition is raised. `run_id` is for a caller that wrote rows
    naming the run in the same transaction (uncommitted: this commit takes them along).
    `share_waiting` (fair shares on, the run starts now): the run waits for an admission
    round, with no `next_due_at` (the sweep leaves it alone) until `admit` gives it one."""
    if idempotency_key is not None:
        existing = find_idempotent_run(
            session, owner_key_id=owner_key_id, idempotency_key=idempotency_key
        )
        if existing is not None:
            return existing, False
    now = utcnow()
    parked = run_at is not None and run_at > now
    waits_for_share = share_waiting and not parked
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
        # If the start message is never sent, the sweep sends it; a later run_at is parked.
        next_due_at=run_at if parked and run_at is not None else None if waits_for_share else now,
        parked=parked,
        share_waiting=waits_for_share,
        run_at=run_at,
        owner_key_id=owner_key_id,
        request_hash=request_hash,
        metadata_json=metadata_json,
        callback_url=callback_url,
        caller_tools=caller_tools,
        max_cost_usd=max_cost_usd,
        lane=lane,
    )
    if run_id is not None:
        run.id = run_id
    session.add(run)
    try:
        session.flush()
        if guard is not None and not guard(session, run):
            session.rollback()
            raise IllegalTransition(f"run for {idempotency_key!r} not recorded: its guard lost")
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
    # Every column got its value here, and runq's own sessions keep objects readable after
    # commit: no read back (that SELECT was a third of an enqueue's CPU). A session that
    # expires on commit reads it back now, so the run stays readable after it closes.
    if session.expire_on_commit:
        session.refresh(run)
    return run, True


# ---- steps: each one compare-and-set UPDATE at the step the caller holds -------------------


def claim_start(session: Session, run: Run, *, now: datetime, lease_until: datetime) -> None:
    """A pending run's first create is about to be sent: in_progress, started, leased."""
    _move(
        session,
        run,
        [RunStatus.PENDING],
        RunStatus.IN_PROGRESS,
        changes=RunChanges(started_at=now),
        due=Due(lease_until),
        at_step=run.step_seq,
    )


def retake_start(session: Session, run: Run, *, lease_until: datetime) -> None:
    """Another try of a claimed start whose create is still owed takes a new step: a copy
    of its message (redelivered while the create is slow) finds the step taken."""
    _move(
        session,
        run,
        [RunStatus.IN_PROGRESS],
        RunStatus.IN_PROGRESS,
        changes=RunChanges(step_seq=run.step_seq + 1),
        due=Due(lease_until),
        first_turn=True,
        at_step=run.step_seq,
    )


def claim_turn(
    session: Session,
    run: Run,
    *,
    from_status: RunStatus,
    changes: RunChanges,
    lease_until: datetime,
    usage: Usage | None = None,
    first_turn: bool = False,
) -> None:
    """A request that starts a new turn on the current answer (a correction) takes a step of
    its own, so a redelivered copy of the poll that asked for it finds the step taken."""
    _move(
        session,
        run,
        [from_status],
        RunStatus.IN_PROGRESS,
        changes=changes | RunChanges(step_seq=run.step_seq + 1),
        usage=usage,
        due=Due(lease_until),
        first_turn=first_turn,
        at_step=run.step_seq,
    )


def claim_submit(
    session: Session, run: Run, *, lease_until: datetime, changes: RunChanges = NO_CHANGES
) -> None:
    """The turn's tool outputs are about to be sent: submitting, leased. A turn that handed
    the run to another agent writes the new agent and model with it (`changes`), and the
    handoff is announced: which agent, to which, at which turn."""
    handed_off = changes.agent is not None and changes.agent != run.agent
    _move(
        session,
        run,
        [RunStatus.REQUIRES_TOOLS],
        RunStatus.SUBMITTING,
        changes=changes,
        due=Due(lease_until),
        at_step=run.step_seq,
        handoff_from=run.agent if handed_off else None,
    )


def release_submit(
    session: Session, run: Run, *, changes: RunChanges = NO_CHANGES, due: Due | None = None
) -> None:
    """A submit that will be sent again gives the run back to requires_tools."""
    _move(
        session,
        run,
        [RunStatus.SUBMITTING],
        RunStatus.REQUIRES_TOOLS,
        changes=changes,
        due=due,
        at_step=run.step_seq,
    )


def await_model(
    session: Session,
    run: Run,
    *,
    from_status: RunStatus,
    changes: RunChanges,
    due: Due,
    usage: Usage | None = None,
    first_turn: bool = False,
) -> None:
    """The model is working on the run's turn (a create, a submit or a poll that found it
    still running): in_progress, its next poll due at `due`."""
    _move(
        session,
        run,
        [from_status],
        RunStatus.IN_PROGRESS,
        changes=changes,
        usage=usage,
        due=due,
        first_turn=first_turn,
        at_step=run.step_seq,
    )


def run_tools(
    session: Session,
    run: Run,
    *,
    from_status: RunStatus,
    turn: int,
    calls: Sequence[ToolCallRequest],
    changes: RunChanges,
    due: Due,
    usage: Usage | None = None,
    first_turn: bool = False,
    waiting: Mapping[str, ToolCallStatus] | None = None,
    answered: Mapping[str, str] | None = None,
) -> None:
    """The model asked for tools: requires_tools and the pending calls, in one transaction.
    With `waiting` calls (by id: awaiting approval or the caller's output) the run goes to
    requires_action instead, due when the wait ends (parked: no message waits with it).
    `answered` calls (by id: a handoff, which runq answers itself) are recorded succeeded
    with their output. Calls already present (same run id + call id) are kept as they are."""
    waiting = waiting or {}
    answered = answered or {}
    now = utcnow()
    _compare_and_set(
        session,
        run,
        [from_status],
        RunStatus.REQUIRES_ACTION if waiting else RunStatus.REQUIRES_TOOLS,
        changes=changes | RunChanges(turn=turn, step_seq=run.step_seq + 1),
        usage=usage,
        due=due,
        first_turn=first_turn,
        at_step=run.step_seq,
    )
    connection = session.connection()
    insert_new = _insert_new_calls_statement(connection.dialect.name)
    known: set[str] = set()
    if insert_new is None:  # no ON CONFLICT here: leave out the ids the run already holds
        known = set(connection.execute(_call_ids_statement(), {"run_id": run.id}).scalars())
        insert_new = insert(_TOOL_CALLS)
    rows = [
        {
            "run_id": run.id,
            "call_id": c.call_id,
            "turn": turn,
            "name": c.name,
            "arguments": c.arguments,
            "status": (
                ToolCallStatus.SUCCEEDED
                if c.call_id in answered
                else waiting.get(c.call_id, ToolCallStatus.PENDING)
            ).value,
            "output": answered.get(c.call_id),
            "finished_at": now if c.call_id in answered else None,
            "attempts": 0,
            "created_at": now,
        }
        for c in calls
        if c.call_id not in known
    ]
    if rows:
        _execute(session, insert_new, rows)
    session.commit()
    _follow(session, run, from_status, turn_calls=calls, waiting=waiting)


def resume_tools(session: Session, run: Run, *, due: Due) -> None:
    """Nothing of the turn waits any more (every call decided or answered): requires_tools,
    as a new step, in the transaction that recorded the last decision or output."""
    _move(
        session,
        run,
        [RunStatus.REQUIRES_ACTION],
        RunStatus.REQUIRES_TOOLS,
        changes=RunChanges(step_seq=run.step_seq + 1),
        due=due,
        at_step=run.step_seq,
    )


def settle(
    session: Session,
    run: Run,
    *,
    from_status: RunStatus,
    changes: RunChanges,
    usage: Usage | None = None,
    first_turn: bool = False,
) -> None:
    """The run completed (its answer, price and finish time are in `changes`)."""
    _move(
        session,
        run,
        [from_status],
        RunStatus.COMPLETED,
        changes=changes,
        usage=usage,
        first_turn=first_turn,
        at_step=run.step_seq,
    )


def end(
    session: Session,
    run: Run,
    *,
    status: RunStatus,
    changes: RunChanges,
    usage: Usage | None = None,
    at_step: int | None = None,
    from_statuses: Collection[RunStatus] = NOT_TERMINAL,
) -> None:
    """The run failed, expired or was cancelled (`changes` says why and when). Without
    `at_step` it ends from wherever it is, short of an end: a cancel, a crash, the sweep."""
    _move(session, run, from_statuses, status, changes=changes, usage=usage, at_step=at_step)


def move(
    session: Session,
    *,
    run_id: str,
    from_statuses: Collection[RunStatus],
    to: RunStatus,
    at_step: int | None = None,
    usage: Usage | None = None,
    changes: RunChanges = NO_CHANGES,
) -> Run:
    """The general form of the verbs above, by run id: for a state no step reaches by
    itself (a test's setup, an operator's repair). Same compare-and-set, same followers."""
    run = get_run(session, run_id=run_id)
    _move(session, run, from_statuses, to, changes=changes, usage=usage, at_step=at_step)
    return run


# ---- bookkeeping: never a status change ----------------------------------------------------


def note_due(session: Session, *, run_id: str, due: Due) -> None:
    """When the run's next message should have done its work (runs in flight only)."""
    params = {"run_id": run_id, "set_next_due_at": due.at, "set_parked": due.parked}
    _commit_one(session, _note_due_statement(), params)


def count_attempt(session: Session, run: Run, *, due: Due) -> None:
    """Count one failed attempt at the run's current step and when it is tried again."""
    _note_at_step(session, run, due, attempts=_C.attempts + 1)


def fall_back_lane(session: Session, run: Run, *, lane: str, due: Due) -> None:
    """The run's lane had no capacity: its turns go to `lane` from now on (the step is sent
    again at once, in that lane)."""
    _note_at_step(session, run, due, lane_fallback=lane)
    _show(run, {"lane_fallback": lane})


def _note_at_step(session: Session, run: Run, due: Due, **values: Any) -> None:
    """Write bookkeeping `values` and when the step is due, only while the run is still at
    the status and step this worker saw."""
    _commit_one(
        session,
        update(_RUNS)
        .where(_C.id == run.id, _C.status == run.status)
        .where(_C.step_seq == run.step_seq)
        .values(updated_at=utcnow(), next_due_at=due.at, parked=due.parked, **values),
    )


def extend_lease(
    session: Session, *, run_id: str, status: str, step_seq: int, due_at: datetime
) -> bool:
    """Keep a run in flight due at `due_at`, only while it is still at this status and step.
    False if a step moved it on (the lease holder has nothing left to hold)."""
    params = {"run_id": run_id, "b_status": status, "at_step": step_seq, "set_next_due_at": due_at}
    result = _commit_one(session, _extend_lease_statement(), params)
    return bool(result.rowcount == 1)


# The two bookkeeping UPDATEs every step may make, and the INSERT of a turn's calls (or the
# read of a run's call ids before it), built once (see `_cas_statement`).

_CALL_KEY = ["run_id", "call_id"]
"""The columns of `uq_toolcall_run_call`: a call is one row per run and call id."""


@functools.cache
def _insert_new_calls_statement(dialect: str) -> Executable | None:
    """An INSERT of a turn's calls that skips any already recorded (same run id and call id:
    a server that reuses an id across turns), in the INSERT itself where the dialect can;
    elsewhere (None) the run's call ids are read first (`_call_ids_statement`)."""
    if dialect == "sqlite":
        return sqlite_insert(_TOOL_CALLS).on_conflict_do_nothing(index_elements=_CALL_KEY)
    if dialect == "postgresql":
        return postgresql_insert(_TOOL_CALLS).on_conflict_do_nothing(index_elements=_CALL_KEY)
    return None


@functools.cache
def _call_ids_statement() -> Executable:
    tool_calls = _TOOL_CALLS.c
    return select(tool_calls.call_id).where(tool_calls.run_id == bindparam("run_id"))


@functools.cache
def _note_due_statement() -> Executable:
    return (
        update(_RUNS)
        .where(_C.id == bindparam("run_id"), status_among(_C.status, NOT_TERMINAL))
        .values(
            next_due_at=bindparam("set_next_due_at", type_=_C.next_due_at.type),
            parked=bindparam("set_parked", type_=_C.parked.type),
        )
    )


@functools.cache
def _extend_lease_statement() -> Executable:
    return (
        update(_RUNS)
        .where(_C.id == bindparam("run_id"), _C.status == bindparam("b_status"))
        .where(_C.step_seq == bindparam("at_step"))
        .values(next_due_at=bindparam("set_next_due_at", type_=_C.next_due_at.type))
    )


def unpark(session: Session, *, run: Run, due_at: datetime) -> bool:
    """Take a parked run's due step for sending (its message is due by `due_at`), only if
    it is still where the sweep saw it. False if a step moved it meanwhile."""
    result = _commit_one(
        session,
        update(_RUNS)
        .where(_C.id == run.id, _C.status == run.status)
        .where(_C.step_seq == run.step_seq, _C.parked)
        .values(parked=False, next_due_at=due_at),
    )
    return bool(result.rowcount == 1)


def admit(session: Session, *, run_id: str, now: datetime) -> bool:
    """An admission round gives a waiting run its slot: it becomes due now (the sweep sends
    its start if the message is lost). False if it no longer waits (admitted by another
    round, or cancelled)."""
    result = _commit_one(
        session,
        update(_RUNS)
        .where(_C.id == run_id, _C.share_waiting, _C.status == RunStatus.PENDING.value)
        .values(share_waiting=False, next_due_at=now),
    )
    return bool(result.rowcount == 1)


def mark_resent(session: Session, *, run: Run, due_at: datetime) -> bool:
    """Count one re-send and set the next due time, only if the run is still where the sweep
    saw it (same status and step). False if a step moved it meanwhile: nothing to re-send."""
    result = _commit_one(
        session,
        update(_RUNS)
        .where(_C.id == run.id, _C.status == run.status)
        .where(_C.step_seq == run.step_seq, _C.recoveries == run.recoveries)
        .values(recoveries=_C.recoveries + 1, next_due_at=due_at),
    )
    return bool(result.rowcount == 1)


def settle_callback(session: Session, *, run_id: str, state: str) -> bool:
    """Move a pending callback to `state` (delivered | gave_up); False if it was not pending."""
    result = _commit_one(
        session,
        update(_RUNS)
        .where(_C.id == run_id, _C.callback_state == "pending")
        .values(callback_state=state),
    )
    return bool(result.rowcount == 1)


# ---- the one compare-and-set, and what follows it ------------------------------------------


def _move(
    session: Session,
    run: Run,
    from_statuses: Collection[RunStatus],
    to: RunStatus,
    *,
    changes: RunChanges = NO_CHANGES,
    usage: Usage | None = None,
    due: Due | None = None,
    first_turn: bool = False,
    at_step: int | None,
    handoff_from: str | None = None,
) -> None:
    from_status = RunStatus(run.status)
    _compare_and_set(
        session,
        run,
        from_statuses,
        to,
        changes=changes,
        usage=usage,
        due=due,
        first_turn=first_turn,
        at_step=at_step,
        last=True,
    )
    session.commit()
    _follow(session, run, from_status, handoff_from=handoff_from)


def _compare_and_set(
    session: Session,
    run: Run,
    from_statuses: Collection[RunStatus],
    to: RunStatus,
    *,
    changes: RunChanges,
    usage: Usage | None,
    due: Due | None,
    at_step: int | None,
    first_turn: bool = False,
    last: bool = False,
) -> None:
    """One UPDATE of the run row, if it is where the caller saw it (its status, and its
    step unless `at_step` is None); the caller commits, right after it when `last`."""
    step = at_step
    # Any transition is progress: the sweep's re-send count starts over, and a run that
    # ended leaves the sweep's index.
    values: dict[str, Any] = {"status": to.value, "updated_at": utcnow(), "recoveries": 0}
    if to in TERMINAL_STATUSES:
        values |= {"next_due_at": None, "parked": False}
        if run.callback_url is not None:
            # Only one transition ends a run (the status guard), so it alone owes the callback.
            values["callback_state"] = "pending"
    elif due is not None:
        values |= {"next_due_at": due.at, "parked": due.parked}
    values |= changes.columns()
    shown = dict(values)
    params: dict[str, Any] = {f"set_{name}": value for name, value in values.items()}
    params["run_id"] = run.id
    if step is not None:
        params["at_step"] = step
    if usage is not None:
        for name in _USAGE_COLUMNS:
            params[f"add_{name}"] = getattr(usage, name)
            shown[name] = getattr(run, name) + getattr(usage, name)
    statement = _cas_statement(
        tuple(sorted(s.value for s in from_statuses)),
        at_step=step is not None,
        first_turn=first_turn,
        columns=tuple(values),
        add_usage=usage is not None,
    )
    send = execute_single_write if last else _execute
    result = send(session, statement, params)
    if result.rowcount != 1:
        session.rollback()
        current = session.get(Run, run.id, populate_existing=True)
        found = current.status if current else "missing"
        raise IllegalTransition(
            f"run {run.id}: expected {sorted(s.value for s in from_statuses)}"
            f"{'' if step is None else f' at step {step}'}, found {found}"
        )
    _show(run, shown)


_USAGE_COLUMNS = ("input_tokens", "output_tokens", "cached_tokens")


@functools.lru_cache(maxsize=512)
def _cas_statement(
    from_statuses: tuple[str, ...],
    *,
    at_step: bool,
    first_turn: bool,
    columns: tuple[str, ...],
    add_usage: bool,
) -> Executable:
    """The compare-and-set UPDATE of one shape (guards and columns written), its values
    bound by name (`run_id`, `at_step`, `set_<column>`, `add_<usage column>`).

    Built once per shape: building the statement and its cache key on every transition
    was half of a step's own CPU (a few dozen shapes occur)."""
    statement = update(_RUNS).where(_C.id == bindparam("run_id"))
    statement = statement.where(status_among(_C.status, from_statuses))
    if at_step:
        statement = statement.where(_C.step_seq == bindparam("at_step"))
    if first_turn:
        statement = statement.where(_C.provider_ref.is_(None))
    values: dict[str, Any] = {
        name: bindparam(f"set_{name}", type_=_C[name].type) for name in columns
    }
    if add_usage:
        for name in _USAGE_COLUMNS:
            values[name] = _C[name] + bindparam(f"add_{name}", type_=_C[name].type)
    return statement.values(values)


def _show(held: Run, values: dict[str, Any]) -> None:
    """Make the caller's copy show the UPDATE it committed, without reading it again."""
    for name, value in values.items():
        set_committed_value(held, name, value)


def preview(run: Run, changes: RunChanges) -> None:
    """Show `changes` on the step's copy of the run before its one UPDATE writes them (a
    turn the provider just accepted, decided on before it is recorded). If that UPDATE
    loses its race, the copy is read again from the database."""
    for name, value in changes.columns().items():
        set_committed_value(run, name, value)


def _follow(
    session: Session,
    run: Run,
    from_status: RunStatus,
    *,
    turn_calls: Sequence[ToolCallRequest] | None = None,
    waiting: Mapping[str, ToolCallStatus] | None = None,
    handoff_from: str | None = None,
) -> None:
    """What follows every committed transition; never raises into the step."""
    to = RunStatus(run.status)
    if handoff_from is not None:
        # The handoff is part of the run's record: which agent, to which, at which turn.
        handoff = {"from_agent": handoff_from, "to_agent": run.agent, "turn": run.turn}
        announce(session, run.id, "run.handoff", handoff)
        log.info(
            "run %s: %s handed the run to %s at turn %d", run.id, handoff_from, run.agent, run.turn
        )
    if turn_calls is not None:
        announce_tool_turn(session, run.id, run.turn, turn_calls, waiting or {})
        if waiting and run.callback_url is not None:
            # Producers that cannot watch the event stream learn here that the run waits.
            send_action_callback(session, run.id, run.step_seq)
    elif from_status != to:  # a poll that saw no change is not news
        announce(session, run.id, event_type_for_status(to.value), {"status": to.value})
    if from_status != to and (is_terminal(to) or to == RunStatus.REQUIRES_ACTION):
        request_admission(session)  # a slot freed: the next waiting run may start
    if is_terminal(to):
        total = Usage(run.input_tokens, run.output_tokens, run.cached_tokens)
        finished_at = run.finished_at or utcnow()
        report_end(run, to, finished_at, total, run.cost_usd or 0.0, from_status=from_status)
        if run.callback_state == "pending" and run.callback_url is not None:
            send_callback(session, run.id)
    elif from_status != to:
        events.run_moved(
            run_id=run.id,
            agent=run.agent,
            from_status=from_status.value,
            to_status=to.value,
            turn=run.turn,
        )
