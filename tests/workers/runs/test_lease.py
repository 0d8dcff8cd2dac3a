"""The run lease: one heartbeat thread per process renews every lease its steps hold
(file SQLite, a connection per thread, so the beat and the steps really run side by side)."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace

from sqlmodel import Session

from tests.workers.steps_fixtures import Clock, file_engine, insert_run, make_context
from workers.db.models import Run
from workers.providers.fake import ScriptedProvider
from workers.runs import lease
from workers.runs.lease import leased


def _heartbeat_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "lease heartbeat"]


def test_many_leases_are_renewed_by_one_thread(tmp_path) -> None:
    # Given eight steps whose provider calls outlast several beats, each on its own thread
    engine = file_engine(tmp_path / "runs.db")
    clock = Clock()
    ctx = replace(make_context(engine, ScriptedProvider(), clock), lease_s=0.2)
    run_ids = [insert_run(engine) for _ in range(8)]
    holding = threading.Barrier(len(run_ids) + 1)
    done = threading.Event()

    def step(run_id: str) -> None:
        with Session(engine) as session:
            run = session.get(Run, run_id)
        assert run is not None
        with leased(ctx, run):
            holding.wait()
            done.wait(5)

    steps = [threading.Thread(target=step, args=(run_id,)) for run_id in run_ids]
    for thread in steps:
        thread.start()
    holding.wait()
    # When the clock moves past every lease
    clock.advance(60)
    deadline = time.monotonic() + 5
    while min(_due(engine, run_id) for run_id in run_ids) < clock.now:
        assert time.monotonic() < deadline, "a lease was not renewed"
        time.sleep(0.02)
    # Then every run was renewed past it, by the process's one heartbeat
    assert len(_heartbeat_threads()) == 1
    done.set()
    for thread in steps:
        thread.join()


def test_a_step_ends_only_after_a_beat_in_flight_wrote(tmp_path) -> None:
    # Given a beat that is writing (its session held open) when the step ends
    engine = file_engine(tmp_path / "runs.db")
    writing, may_finish = threading.Event(), threading.Event()

    def sessions() -> Session:
        if threading.current_thread().name == "lease heartbeat":
            writing.set()
            may_finish.wait(5)
        return Session(engine, expire_on_commit=False)

    ctx = replace(make_context(engine, ScriptedProvider(), Clock()), lease_s=0.1, sessions=sessions)
    run_id = insert_run(engine)
    with Session(engine) as session:
        run = session.get(Run, run_id)
    assert run is not None
    ended = threading.Event()

    def step() -> None:
        with leased(ctx, run, taken=True):
            assert writing.wait(5)
        ended.set()

    thread = threading.Thread(target=step)
    thread.start()
    # Then the step waits for the beat (its own write would otherwise be overwritten)
    assert writing.wait(5)
    assert not ended.wait(0.3)
    may_finish.set()
    assert ended.wait(5)
    thread.join()


def test_a_forked_child_starts_its_own_heartbeat() -> None:
    parent = lease._heartbeat()
    pid = os.fork()
    if pid == 0:  # the child: a fork copies no threads, so it must not use the parent's
        child = lease._heartbeat()
        os._exit(0 if child is not parent and child._thread.is_alive() else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _due(engine, run_id: str):
    with Session(engine) as session:
        run = session.get(Run, run_id)
        assert run is not None and run.next_due_at is not None
        return run.next_due_at
