"""Long waits live in the database, not in broker countdowns (so the visibility timeout can
be short): a step that must wait longer than a countdown may is parked on its run, and the
sweep sends it when it is due, as a step on time (no re-send counted, no grace added)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from tests.workers.steps_fixtures import NOW, Clock, insert_run, make_context, memory_engine
from workers.db import store
from workers.providers.fake import scripted
from workers.runs.context import Later, StepName
from workers.runs.sweep import SweepPolicy, record_next_due, sweep_overdue_runs

POLICY = SweepPolicy(grace_s=5.0, batch=100, max_recoveries=3)
MAX_COUNTDOWN_S = 10.0


def setup():
    engine, clock = memory_engine(), Clock()
    return engine, clock, make_context(engine, scripted([]), clock), insert_run(engine)


def load(engine, run_id):
    with Session(engine) as session:
        return store.get_run(session, run_id=run_id)


def test_a_short_wait_is_a_countdown_and_a_long_one_is_parked():
    engine, _clock, ctx, run_id = setup()
    assert not record_next_due(ctx, Later(StepName.START, (run_id,), 10.0), MAX_COUNTDOWN_S)
    assert not load(engine, run_id).parked
    assert record_next_due(ctx, Later(StepName.START, (run_id,), 25.0), MAX_COUNTDOWN_S)
    run = load(engine, run_id)
    assert run.parked and run.next_due_at == NOW + timedelta(seconds=25)


def test_the_sweep_sends_a_parked_step_when_due_without_counting_a_re_send():
    engine, clock, ctx, run_id = setup()
    record_next_due(ctx, Later(StepName.START, (run_id,), 25.0), MAX_COUNTDOWN_S)
    clock.advance(24)
    assert sweep_overdue_runs(ctx, POLICY) == []  # not yet due
    clock.advance(1.5)
    assert sweep_overdue_runs(ctx, POLICY) == [Later(StepName.START, (run_id,))]  # no grace
    run = load(engine, run_id)
    assert (run.parked, run.recoveries) == (False, 0)
    assert run.next_due_at == clock.now + timedelta(seconds=POLICY.grace_s)
    assert sweep_overdue_runs(ctx, POLICY) == []  # sent once


def test_a_step_parked_again_and_again_is_never_taken_for_a_poison_run():
    engine, clock, ctx, run_id = setup()
    for _ in range(POLICY.max_recoveries + 2):  # e.g. a long rate-limit pause, every time
        record_next_due(ctx, Later(StepName.START, (run_id,), 60.0), MAX_COUNTDOWN_S)
        clock.advance(61)
        assert sweep_overdue_runs(ctx, POLICY) == [Later(StepName.START, (run_id,))]
    assert load(engine, run_id).status == "pending"
