"""Runs that wait for time on the real fleet: a schedule ticking every two seconds fires one
run per tick with two more `celery beat` processes running beside the fleet's own, and across
one of them SIGKILLed and restarted mid-run; a `run_at` run starts at its time, not before.
Real Redis, real workers and beats, the simulator, PostgreSQL (SQLite without it)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import tests.integration.agents  # noqa: F401  (the fleet's agents, here too, before any test)
import workers.demo_agent  # noqa: F401  (`assistant`, which the fleet's workers have too)
from devstack.local_stack import LocalStack
from tests.integration.fleet import TERMINAL

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

EVERY_2_S = "*/2 * * * * *"


class Beats:
    """`celery -A config beat` processes of the test's own, each with its schedule file."""

    def __init__(self, fleet: LocalStack, workdir: Path) -> None:
        self.fleet, self.workdir = fleet, workdir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        args = [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO"]
        args += ["--schedule", str(self.workdir / f"beat-{name}")]
        with (self.workdir / f"beat-{name}.log").open("ab") as log_file:
            self.processes[name] = subprocess.Popen(
                args, env=self.fleet.env, stdout=log_file, stderr=subprocess.STDOUT
            )

    def sends(self, name: str) -> int:
        """How many tick jobs beat `name` has logged sending (in all its lives)."""
        log = self.workdir / f"beat-{name}.log"
        return log.read_text().count("fire-schedules") if log.exists() else 0

    def wait_sending(self, name: str, more_than: int = 0) -> None:
        """Block until beat `name` has sent a tick job (after `more_than` sends): a beat
        still importing on a loaded machine must not be counted as racing the others."""
        wait_until(lambda: self.sends(name) > more_than, 60, f"beat {name} sending tick jobs")

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()


@pytest.fixture
def beats(fleet: LocalStack, tmp_path: Path) -> Iterator[Beats]:
    started = Beats(fleet, tmp_path)
    yield started
    started.stop()


def create_schedule(cron: str) -> str:
    from workers import wiring
    from workers.public.schedule_schemas import ScheduleCreate
    from workers.public.schedules import create_schedule as create

    body = ScheduleCreate(agent="assistant", input="Say hi", cron=cron, overlap="enqueue")
    with wiring.new_session() as session:
        return create(session, body, owner_key_id="").id


def pause(schedule_id: str) -> None:
    from workers import wiring
    from workers.public.schedule_schemas import ScheduleUpdate
    from workers.public.schedules import update_schedule

    with wiring.new_session() as session:
        update_schedule(
            session, ScheduleUpdate(enabled=False), owner_key_id="", schedule_id=schedule_id
        )


def runs_of(schedule_id: str) -> list[tuple[str, str]]:
    """(idempotency key, status) of the runs the schedule fired."""
    from sqlmodel import col, select

    from workers import wiring
    from workers.db.models import Run

    with wiring.new_session() as session:
        query = select(Run.idempotency_key, Run.status).where(
            col(Run.idempotency_key).startswith(f"{schedule_id}@")
        )
        return [(str(key), str(status)) for key, status in session.exec(query).all()]


def wait_until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def tick_of(key: str) -> datetime:
    return datetime.strptime(key.split("@", 1)[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_one_run_per_tick_with_several_beats_and_one_restarted_mid_run(fleet, beats):
    # Given two more beats beside the fleet's own, all sending the tick job every second
    beats.start("a")
    beats.start("b")
    beats.wait_sending("a")
    beats.wait_sending("b")
    schedule_id = create_schedule(EVERY_2_S)

    # When the schedule ticks a few times, beat a is SIGKILLed mid-run and restarted
    wait_until(lambda: len(runs_of(schedule_id)) >= 3, 30, "three ticks with three beats")
    sent_before_kill = beats.sends("a")
    beats.kill("a")
    beats.start("a")
    beats.wait_sending("a", more_than=sent_before_kill)
    fired = len(runs_of(schedule_id))
    wait_until(lambda: len(runs_of(schedule_id)) >= fired + 3, 30, "three ticks after restart")
    pause(schedule_id)

    # Then every tick from the first to the last made exactly one run: no tick twice (the
    # idempotency key is the tick), none lost to a beat that lost the race
    keys = [key for key, _ in runs_of(schedule_id)]
    ticks = sorted(tick_of(key) for key in keys)
    assert len(ticks) == len(set(ticks))
    expected = [ticks[0] + timedelta(seconds=2 * n) for n in range(len(ticks))]
    assert ticks == expected, f"ticks fired: {[f'{t:%T}' for t in ticks]}"
    # and each of them runs to its end
    wait_until(
        lambda: all(status in TERMINAL for _, status in runs_of(schedule_id)), 60, "the runs"
    )
    assert {status for _, status in runs_of(schedule_id)} == {"completed"}


def test_a_run_at_run_starts_at_its_time_not_before(fleet):
    from workers import wiring
    from workers.db import store
    from workers.public.enqueue import enqueue_run
    from workers.public.schemas import JobCreate

    run_at = datetime.now(UTC) + timedelta(seconds=4)
    job = JobCreate(agent="assistant", input="Say hi", run_at=run_at)
    with wiring.new_session() as session:
        run_id = enqueue_run(session, job, default_deadline_s=60).id

    def current():
        with wiring.new_session() as session:
            return store.get_run(session, run_id=run_id)

    wait_until(lambda: current().status in TERMINAL, 40, "the run_at run to end")
    run = current()
    assert run.status == "completed", run.error
    assert run.started_at is not None and run.started_at >= run_at
    assert run.deadline_at == run_at + timedelta(seconds=60)
