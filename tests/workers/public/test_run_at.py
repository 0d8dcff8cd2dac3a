"""Runs that start at a time: parked until then (no message, no worker), started by the
sweep when due and not before, the deadline counted from then; refused in the past, too far
ahead, or without a time zone."""

from __future__ import annotations

import re
from datetime import timedelta

import pydantic
import pytest
from sqlmodel import Session

from tests.workers.steps_fixtures import Clock, make_context, memory_engine
from workers.db import store
from workers.db.models import utcnow
from workers.errors import StartTimeRefused
from workers.providers.fake import ScriptedProvider
from workers.public.enqueue import enqueue_job
from workers.public.schemas import JobCreate
from workers.runs.context import Later, Nothing, StepName
from workers.runs.steps import start_run
from workers.runs.sweep import SweepPolicy, sweep_overdue_runs

HOUR = timedelta(hours=1)


@pytest.fixture
def shop(monkeypatch):
    import workers.public.enqueue

    engine, clock, provider = memory_engine(), Clock(), ScriptedProvider()
    clock.now = utcnow()  # the door reads the real clock; the sweep reads this one
    started: list[str] = []
    monkeypatch.setattr(workers.public.enqueue, "send_start", started.append)
    return engine, clock, make_context(engine, provider, clock), started, provider


def enqueue(engine, **job):
    job = {"agent": "assistant", "input": "Weather in Oslo?"} | job
    with Session(engine, expire_on_commit=False) as session:
        return enqueue_job(session, JobCreate(**job), default_deadline_s=600)[0]


def test_a_run_at_run_waits_parked_and_its_deadline_counts_from_then(shop):
    engine, clock, _, started, _ = shop
    run_at = clock() + HOUR
    run = enqueue(engine, run_at=run_at.isoformat(), deadline_s=60)
    assert (run.status, run.parked, run.run_at, run.next_due_at) == (
        "pending",
        True,
        run_at,
        run_at,
    )
    assert run.deadline_at == run_at + timedelta(seconds=60)
    assert started == []  # no message: nothing holds a worker or a broker countdown


def test_the_sweep_starts_it_when_due_and_not_before(shop):
    engine, clock, ctx, _, provider = shop
    run = enqueue(engine, run_at=(clock() + HOUR).isoformat())
    policy = SweepPolicy(grace_s=5.0, batch=100, max_recoveries=3)

    clock.advance(HOUR.total_seconds() - 1)
    assert sweep_overdue_runs(ctx, policy) == []
    # A stray start message before its time (a replay, an operator) does not start it.
    assert isinstance(start_run(ctx, run.id), Nothing) and provider.calls == []

    clock.advance(2)
    assert sweep_overdue_runs(ctx, policy) == [Later(StepName.START, (run.id,))]
    with Session(engine) as session:
        assert store.get_run(session, run_id=run.id).parked is False


def test_a_run_at_within_the_clock_skew_slack_starts_at_once(shop):
    engine, clock, _, started, _ = shop
    run = enqueue(engine, run_at=(clock() - timedelta(seconds=3)).isoformat())
    assert not run.parked and started == [run.id]


@pytest.mark.parametrize(
    ("offset", "message"),
    [
        (-timedelta(minutes=1), "is in the past"),
        (timedelta(days=366), "more than 365 days ahead (RUNQ_MAX_RUN_AT_DAYS)"),
    ],
)
def test_a_run_at_outside_the_window_is_refused(shop, offset, message):
    engine, _, _, started, _ = shop
    with pytest.raises(StartTimeRefused, match=re.escape(message)):
        enqueue(engine, run_at=(utcnow() + offset).isoformat())
    assert started == []


def test_a_run_at_without_a_time_zone_is_refused():
    with pytest.raises(pydantic.ValidationError, match="run_at needs a time zone"):
        JobCreate(agent="assistant", input="hi", run_at="2030-01-01T09:00:00")


def test_run_at_is_normalised_to_utc():
    job = JobCreate(agent="assistant", input="hi", run_at="2030-01-01T10:00:00+01:00")
    assert job.run_at is not None and job.run_at.isoformat() == "2030-01-01T09:00:00+00:00"
