"""The recovery sweep on a real (in-memory) database: overdue runs get their step again,
runs on time and ended runs are left alone, a poison run ends with the reason."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from tests.workers.steps_fixtures import NOW, Clock, insert_run, make_context, memory_engine
from workers.db import store
from workers.providers.fake import scripted
from workers.runs import ledger
from workers.runs.context import FanOut, Later, StepName
from workers.runs.ledger import Due
from workers.runs.outcomes import cancel_run
from workers.runs.state import RunStatus as S
from workers.runs.sweep import SweepPolicy, record_next_due, sweep_overdue_runs

POLICY = SweepPolicy(grace_s=5.0, batch=100, max_recoveries=3)


def setup(count=1):
    engine = memory_engine()
    clock = Clock()
    ctx = make_context(engine, scripted([]), clock)
    run_ids = [insert_run(engine) for _ in range(count)]
    with Session(engine) as session:
        for run_id in run_ids:
            ledger.note_due(session, run_id=run_id, due=Due(NOW))
    return engine, clock, ctx, run_ids


def load(engine, run_id):
    with Session(engine) as session:
        return store.get_run(session, run_id=run_id)


def test_a_run_overdue_by_more_than_the_grace_gets_its_step_again_once():
    engine, clock, ctx, [run_id] = setup()
    clock.advance(4)
    assert sweep_overdue_runs(ctx, POLICY) == []  # late, but within the grace
    clock.advance(2)
    assert sweep_overdue_runs(ctx, POLICY) == [Later(StepName.START, (run_id,))]
    assert sweep_overdue_runs(ctx, POLICY) == []  # re-sent: due again only after a grace
    run = load(engine, run_id)
    assert run.recoveries == 1 and run.next_due_at == clock.now + timedelta(seconds=5)


def test_a_poison_run_inside_its_deadline_fails_not_expires():
    engine, clock, ctx, [run_id] = setup()
    for _ in range(3):
        clock.advance(30)
        sweep_overdue_runs(ctx, POLICY)
    clock.advance(120)
    sweep_overdue_runs(ctx, POLICY)
    run = load(engine, run_id)
    assert run.status == "failed"
    assert run.error == (
        "step start was re-sent 3 times and never finished: it kills its worker "
        "(or loses its message) every time"
    )


def test_ended_runs_leave_the_sweep_and_a_transition_resets_the_count():
    engine, clock, ctx, [ended, moving] = setup(2)
    cancel_run(ctx, ended)
    clock.advance(10)
    assert sweep_overdue_runs(ctx, POLICY) == [Later(StepName.START, (moving,))]
    assert load(engine, ended).next_due_at is None
    assert load(engine, moving).recoveries == 1
    with Session(engine) as session:
        ledger.move(session, run_id=moving, from_statuses=[S.PENDING], to=S.PENDING)
    assert load(engine, moving).recoveries == 0


def test_each_sweep_takes_at_most_a_batch_most_overdue_first():
    engine, clock, ctx, run_ids = setup(5)
    with Session(engine) as session:
        ledger.note_due(session, run_id=run_ids[3], due=Due(NOW - timedelta(hours=1)))
    clock.advance(10)
    actions = sweep_overdue_runs(ctx, SweepPolicy(grace_s=5.0, batch=2, max_recoveries=3))
    assert len(actions) == 2 and actions[0] == Later(StepName.START, (run_ids[3],))


def test_steps_record_when_their_message_is_due():
    engine, _clock, ctx, [run_id] = setup()
    record_next_due(ctx, Later(StepName.POLL, (run_id, 3), after_s=2.5))
    assert load(engine, run_id).next_due_at == NOW + timedelta(seconds=2.5)
    record_next_due(ctx, FanOut(run_id, 1, ()))
    assert load(engine, run_id).next_due_at == NOW
