"""The schedules' door on a real SQLite store with a hand-moved clock: one run per tick,
however many beats fire it, missed ticks and overlapping runs by policy, refusals recorded.
The start messages are captured instead of sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from tests.workers.steps_fixtures import Clock, make_context, memory_engine
from workers.db import key_store, schedule_store
from workers.db.models import Run, Schedule
from workers.errors import IllegalTransition
from workers.providers.fake import ScriptedProvider
from workers.public.schedule_door import FiringPolicy, fire_due_schedules, fire_tick
from workers.public.schedule_schemas import ScheduleCreate, ScheduleUpdate
from workers.public.schedules import create_schedule, update_schedule
from workers.runs import ledger

POLICY = FiringPolicy(missed_after_s=60.0, batch=50, default_deadline_s=300.0)
MIN = timedelta(minutes=1)


@pytest.fixture
def door(monkeypatch):
    import workers.public.enqueue

    engine, clock = memory_engine(), Clock()
    started: list[str] = []
    monkeypatch.setattr(workers.public.enqueue, "send_start", started.append)
    ctx = make_context(engine, ScriptedProvider(), clock)
    return engine, clock, ctx, started


def schedule(engine, clock, owner="", **fields) -> str:
    body = {"agent": "assistant", "input": "Daily report", "cron": "*/5 * * * *"} | fields
    with Session(engine) as session:
        return create_schedule(session, ScheduleCreate(**body), owner_key_id=owner, now=clock()).id


def load(engine, schedule_id) -> Schedule:
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(Schedule, schedule_id)
        assert row is not None
        return row


def runs(engine) -> list[Run]:
    with Session(engine) as session:
        return list(session.exec(select(Run).order_by(col(Run.created_at))).all())


def test_a_tick_fires_one_run_keyed_by_the_tick_and_the_schedule_moves_on(door):
    engine, clock, ctx, started = door
    with Session(engine) as session:
        key, _ = key_store.create_key(session, name="reports")
    sid = schedule(engine, clock, owner=key.id, thread_key="reports", metadata={"team": "x"})
    tick = load(engine, sid).next_fire_at
    assert tick == clock() + 5 * MIN

    # Given the tick has not come, nothing fires
    assert fire_due_schedules(ctx, POLICY) == 0

    # When it has come, one run is created for it, owned by the schedule's key
    clock.now = tick
    assert fire_due_schedules(ctx, POLICY) == 1
    [run] = runs(engine)
    assert run.idempotency_key == f"{sid}@{tick:%Y-%m-%dT%H:%M:%SZ}"
    assert (run.owner_key_id, run.agent, run.input) == (key.id, "assistant", "Daily report")
    assert run.thread_id is not None and run.metadata_json == '{"team": "x"}'
    assert started == [run.id]
    row = load(engine, sid)
    assert (row.next_fire_at, row.last_fired_at, row.last_run_id) == (tick + 5 * MIN, tick, run.id)

    # And a second beat (or a redelivered message) at the same moment finds nothing due
    assert fire_due_schedules(ctx, POLICY) == 0
    assert len(runs(engine)) == 1


def test_two_beats_holding_the_same_due_schedule_create_one_run(door):
    engine, clock, ctx, started = door
    sid = schedule(engine, clock)
    clock.advance(5 * 60)
    # Both beats read the schedule before either fired it.
    seen_by_first, seen_by_second = load(engine, sid), load(engine, sid)
    assert fire_tick(ctx, seen_by_first, clock(), POLICY) is True
    assert fire_tick(ctx, seen_by_second, clock(), POLICY) is False
    assert len(runs(engine)) == 1 and len(started) == 1


def test_a_tick_is_claimed_by_compare_and_set(door):
    engine, clock, _, _ = door
    sid = schedule(engine, clock)
    tick = load(engine, sid).next_fire_at
    assert tick is not None
    with Session(engine) as session:
        first = schedule_store.claim_tick(
            session, schedule_id=sid, tick=tick, next_fire_at=tick + 5 * MIN, run_id="run_1"
        )
        second = schedule_store.claim_tick(
            session, schedule_id=sid, tick=tick, next_fire_at=tick + 5 * MIN, run_id="run_2"
        )
        session.commit()
    assert (first, second) == (True, False)
    assert load(engine, sid).last_run_id == "run_1"


def test_a_run_whose_guard_loses_is_not_recorded(door):
    engine, _, _, _ = door
    with Session(engine) as session, pytest.raises(IllegalTransition, match="guard lost"):
        ledger.open_run(
            session,
            agent="assistant",
            input_text="hi",
            provider="responses",
            model="m",
            deadline_at=Clock()() + MIN,
            idempotency_key="sch_x@tick",
            guard=lambda session, run: False,
        )
    assert runs(engine) == []


def test_a_paused_schedule_fires_nothing_and_resumes_from_the_next_tick(door):
    engine, clock, ctx, _ = door
    sid = schedule(engine, clock)
    with Session(engine) as session:
        paused = update_schedule(
            session, ScheduleUpdate(enabled=False), owner_key_id="", schedule_id=sid, now=clock()
        )
    assert (paused.enabled, paused.next_fire_at) == (False, None)
    clock.advance(60 * 60)
    assert fire_due_schedules(ctx, POLICY) == 0

    with Session(engine) as session:
        resumed = update_schedule(
            session, ScheduleUpdate(enabled=True), owner_key_id="", schedule_id=sid, now=clock()
        )
    # The ticks that passed while paused are not owed.
    assert resumed.next_fire_at == clock() + 5 * MIN
    assert runs(engine) == []


@pytest.mark.parametrize(("missed", "expected_runs"), [("skip", 0), ("catch_up_once", 1)])
def test_ticks_missed_while_the_fleet_was_down(door, missed, expected_runs):
    engine, clock, ctx, _ = door
    sid = schedule(engine, clock, missed=missed, overlap="enqueue")
    first_tick = load(engine, sid).next_fire_at
    assert first_tick is not None

    # Given the fleet was down for six ticks (until 1 s past the seventh tick's time)
    clock.now = first_tick + 30 * MIN + timedelta(seconds=1)
    fire_due_schedules(ctx, POLICY)

    # Then the missed ticks made `expected_runs` runs, and the current tick (not missed) one
    keys = [run.idempotency_key for run in runs(engine)]
    assert len(keys) == expected_runs + 1
    assert keys[-1] == f"{sid}@{first_tick + 30 * MIN:%Y-%m-%dT%H:%M:%SZ}"
    assert load(engine, sid).next_fire_at == first_tick + 35 * MIN


@pytest.mark.parametrize(
    ("overlap", "runs_after", "previous_status"),
    [("skip", 1, "pending"), ("enqueue", 2, "pending"), ("cancel", 2, "cancelled")],
)
def test_a_tick_that_finds_the_previous_run_going(door, overlap, runs_after, previous_status):
    engine, clock, ctx, _ = door
    sid = schedule(engine, clock, overlap=overlap)
    clock.advance(5 * 60)
    assert fire_due_schedules(ctx, POLICY) == 1
    [previous] = runs(engine)

    # When the next tick comes while that run has not ended
    clock.advance(5 * 60)
    fire_due_schedules(ctx, POLICY)

    found = {run.id: run.status for run in runs(engine)}
    assert len(found) == runs_after and found[previous.id] == previous_status
    row = load(engine, sid)
    assert row.next_fire_at == clock() + 5 * MIN
    if overlap == "skip":
        assert row.last_skip_reason == f"previous run {previous.id} still going (overlap: skip)"
    else:
        assert row.last_run_id != previous.id and row.last_skip_reason is None


def test_a_tick_whose_run_is_refused_records_why_and_moves_on(door):
    engine, clock, ctx, _ = door
    sid = schedule(engine, clock)
    with Session(engine) as session:
        session.get(Schedule, sid).job_json = '{"agent": "gone", "input": "hi"}'  # type: ignore[union-attr]
        session.commit()
    clock.advance(5 * 60)
    assert fire_due_schedules(ctx, POLICY) == 0
    row = load(engine, sid)
    assert row.last_skip_reason is not None and "unknown agent 'gone'" in row.last_skip_reason
    assert row.next_fire_at == clock() + 5 * MIN and runs(engine) == []


def test_a_revoked_keys_schedule_fires_nothing(door):
    engine, clock, ctx, _ = door
    with Session(engine) as session:
        key, _ = key_store.create_key(session, name="billing")
    sid = schedule(engine, clock, owner=key.id)
    with Session(engine) as session:
        key_store.revoke_key(session, name="billing")
    clock.advance(5 * 60)
    assert fire_due_schedules(ctx, POLICY) == 0
    assert load(engine, sid).last_skip_reason == "its API key was revoked"
