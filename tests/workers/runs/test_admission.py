"""Admission rounds on a real (in-memory) database: waiting runs are left alone by the
sweep, admitted by fair share up to the target, never past a key's cap, and once."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from tests.workers.steps_fixtures import NOW, Clock, make_context, memory_engine
from workers.db import key_store, session_hooks, share_store, store
from workers.db.changes import RunChanges
from workers.db.models import ApiKey
from workers.db.statuses import RunStatus
from workers.providers.fake import scripted
from workers.runs import ledger
from workers.runs.admission import admit_waiting_runs, release_waiting_runs
from workers.runs.outcomes import cancel_run
from workers.runs.sweep import SweepPolicy, sweep_overdue_runs


def open_waiting(engine, owner_key_id: str) -> str:
    with Session(engine) as session:
        run, _ = ledger.open_run(
            session,
            agent="assistant",
            input_text="hi",
            provider="responses",
            model="gpt-test",
            deadline_at=NOW + timedelta(seconds=600),
            owner_key_id=owner_key_id,
            share_waiting=True,
        )
        return run.id


def make_key(engine, name: str, *, weight: int = 1, cap: int | None = None) -> str:
    with Session(engine) as session:
        row, _ = key_store.create_key(session, name=name)
        share_store.set_share(session, key=row, weight=weight, cap=cap, clear_cap=False)
        return row.id


def setup():
    engine = memory_engine()
    clock = Clock()
    return engine, clock, make_context(engine, scripted([]), clock)


def test_a_waiting_run_has_no_due_time_so_the_sweep_leaves_it_alone():
    engine, clock, ctx = setup()
    run_id = open_waiting(engine, "")
    clock.advance(3600)
    assert sweep_overdue_runs(ctx, SweepPolicy()) == []
    with Session(engine) as session:
        run = store.get_run(session, run_id=run_id)
        assert run.share_waiting and run.next_due_at is None


def test_a_round_admits_up_to_the_target_and_makes_the_admitted_runs_due():
    engine, clock, ctx = setup()
    run_ids = [open_waiting(engine, "") for _ in range(5)]
    admitted = admit_waiting_runs(ctx, target=3)
    assert admitted == run_ids[:3]
    with Session(engine) as session:
        first = store.get_run(session, run_id=run_ids[0])
        assert not first.share_waiting and first.next_due_at == clock.now
        assert share_store.in_flight_by_key(session) == {"": 3}
    assert admit_waiting_runs(ctx, target=3) == []  # full: nothing more


def test_the_small_key_is_admitted_ahead_of_the_flood_backlog():
    engine, _, ctx = setup()
    flood, small = make_key(engine, "flood"), make_key(engine, "small")
    for _ in range(20):
        open_waiting(engine, flood)
    flood_in_flight = admit_waiting_runs(ctx, target=4)  # the flood fills the fleet
    assert len(flood_in_flight) == 4
    small_runs = [open_waiting(engine, small) for _ in range(2)]
    # Given a flood run ends, when the next round runs, then the small key gets the slot
    # although 16 of the flood's runs waited longer.
    cancel_run(ctx, flood_in_flight[0], reason="done")
    assert admit_waiting_runs(ctx, target=4) == [small_runs[0]]


def test_a_key_at_its_cap_gets_no_more_even_with_the_fleet_idle():
    engine, _, ctx = setup()
    capped = make_key(engine, "capped", cap=2)
    for _ in range(5):
        open_waiting(engine, capped)
    assert len(admit_waiting_runs(ctx, target=100)) == 2
    assert admit_waiting_runs(ctx, target=100) == []
    with Session(engine) as session:
        assert share_store.in_flight_by_key(session) == {capped: 2}
        assert share_store.count_of_key(session, key_id=capped) == (2, 3)


def test_a_cancelled_waiting_run_is_never_admitted():
    engine, _, ctx = setup()
    run_id = open_waiting(engine, "")
    cancel_run(ctx, run_id, reason="changed my mind")
    assert admit_waiting_runs(ctx, target=10) == []


def test_a_run_is_admitted_once_even_by_two_rounds_racing():
    engine, clock, _ = setup()
    run_id = open_waiting(engine, "")
    with Session(engine) as session:
        assert ledger.admit(session, run_id=run_id, now=clock.now)
        assert not ledger.admit(session, run_id=run_id, now=clock.now)


def test_weights_are_read_from_the_keys():
    engine, _, ctx = setup()
    heavy, light = make_key(engine, "heavy", weight=3), make_key(engine, "light")
    heavy_runs = {open_waiting(engine, heavy) for _ in range(10)}
    light_runs = {open_waiting(engine, light) for _ in range(10)}
    admitted = admit_waiting_runs(ctx, target=4)
    assert len(set(admitted) & heavy_runs) == 3
    assert len(set(admitted) & light_runs) == 1
    with Session(engine) as session:
        assert session.get(ApiKey, heavy).weight == 3


def test_runs_left_waiting_when_fair_shares_are_turned_off_are_all_released():
    engine, _, ctx = setup()
    capped = make_key(engine, "capped", cap=1)
    run_ids = {open_waiting(engine, capped) for _ in range(3)} | {open_waiting(engine, "")}
    assert set(release_waiting_runs(ctx, batch=10)) == run_ids  # the cap is off too
    assert release_waiting_runs(ctx, batch=10) == []


def test_a_run_that_ends_asks_for_an_admission_round_and_one_that_moves_on_does_not():
    engine, _, _ = setup()
    asked: list[bool] = []
    hooks = {session_hooks.ADMISSION_REQUESTER: lambda: asked.append(True)}
    running = open_waiting(engine, "")
    with Session(engine, info=hooks) as session:
        ledger.admit(session, run_id=running, now=NOW)
        run = store.get_run(session, run_id=running)
        ledger.claim_start(session, run, now=NOW, lease_until=NOW + timedelta(seconds=5))
        assert asked == []  # pending -> in_progress frees no slot
        ledger.end(session, run, status=RunStatus.CANCELLED, changes=RunChanges())
    assert asked == [True]
