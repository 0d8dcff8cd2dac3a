"""RunStepTask.carry_out: what a step's outcome turns into (message, drop, retry, failed run).

The Celery task object is the real one and a failed run is really recorded (in-memory
SQLite through the real step context); only `send`, `record_next_due` and Celery's `retry`
are replaced, because they reach the broker.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session

import tasks.step_task as step_task
from config.settings import get_settings
from tasks.next_step import task_label
from tasks.runs import poll
from tests.workers.steps_fixtures import Clock, make_context, memory_engine
from workers.db import store
from workers.db.models import Run, utcnow
from workers.db.statuses import RunStatus
from workers.errors import (
    IllegalTransition,
    ProviderRejected,
    RunEnded,
    RunNotFound,
    UnknownAgent,
)
from workers.providers.fake import scripted
from workers.runs.context import Later, Nothing, StepName
from workers.runs.state import Fail

EVENTS: list[str] = []
"""What carry_out did, in order: "due" (next due time recorded), "send"."""


class RetryAsked(Exception):
    def __init__(self, countdown: float) -> None:
        self.countdown = countdown


RUN_ID = "run_1"


@pytest.fixture
def engine():
    return memory_engine()


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch, engine) -> dict[str, list[Any]]:
    seen: dict[str, list[Any]] = {"sent": [], "failed": []}
    ctx = make_context(engine, scripted([]), Clock())
    with Session(engine) as session:
        session.add(
            Run(
                id=RUN_ID,
                agent="assistant",
                input="hi",
                deadline_at=utcnow() + timedelta(minutes=5),
            )
        )
        session.commit()
    real_fail_run = step_task.fail_run

    def fail_run(ctx: Any, run_id: str, step: Fail) -> bool:
        seen["failed"].append((run_id, step))
        return real_fail_run(ctx, run_id, step)

    EVENTS.clear()

    def send(step: Any) -> None:
        EVENTS.append("send")
        seen["sent"].append(step)

    monkeypatch.setattr(step_task, "send", send)
    monkeypatch.setattr(
        step_task, "record_next_due", lambda ctx, step, max_s: EVENTS.append("due") or False
    )
    monkeypatch.setattr(step_task, "fail_run", fail_run)
    monkeypatch.setattr(step_task, "get_step_context", lambda: ctx)
    monkeypatch.setattr(poll, "retry", lambda exc, countdown, **_: RetryAsked(countdown))
    return seen


def carry_out(step: Any, retries: int = 0) -> str:
    poll.push_request(retries=retries)
    try:
        return poll.carry_out("run_1", step)
    finally:
        poll.pop_request()


def stored(engine) -> Run:
    with Session(engine) as session:
        return store.get_run(session, run_id=RUN_ID)


def raising(exc: Exception) -> Any:
    def step() -> Any:
        raise exc

    return step


def test_the_next_step_is_sent(recorded):
    following = Later(StepName.POLL, ("run_1", 3), 1.5)
    assert carry_out(lambda: following) == "Later"
    assert recorded["sent"] == [following]
    assert recorded["failed"] == []
    assert EVENTS == ["due", "send"]  # if the send never happens, the sweep re-sends


def test_a_step_whose_agent_this_worker_lacks_is_handed_back(recorded):
    with pytest.raises(RetryAsked):
        carry_out(raising(UnknownAgent("unknown agent 'x'")), retries=0)
    assert recorded == {"sent": [], "failed": []}


def test_a_step_handed_back_too_often_fails_the_run_with_the_reason(recorded, engine):
    limit = get_settings().runs.agent_missing_retries
    with pytest.raises(RunEnded):
        carry_out(raising(UnknownAgent("unknown agent 'x'")), retries=limit)
    assert stored(engine).status == RunStatus.FAILED
    [(run_id, failure)] = recorded["failed"]
    assert run_id == "run_1"
    assert failure.reason.startswith(f"no worker that took this run has its agent ({limit + 1}")


@pytest.mark.parametrize("exc", [IllegalTransition("lost the race"), RunNotFound("gone")])
def test_a_duplicate_or_orphan_message_is_dropped(recorded, exc):
    assert carry_out(raising(exc)).startswith("dropped:")
    assert recorded == {"sent": [], "failed": []}


def test_a_runq_error_fails_the_run_with_its_reason(recorded, engine):
    with pytest.raises(RunEnded, match="run run_1 failed: ProviderRejected: bad model"):
        carry_out(raising(ProviderRejected("bad model")))
    assert stored(engine).error == "ProviderRejected: bad model"
    assert recorded["sent"] == []
    assert recorded["failed"] == [("run_1", Fail("ProviderRejected: bad model"))]


@pytest.mark.parametrize("retries", range(step_task.CRASH_RETRIES))
def test_a_crash_is_retried_with_a_growing_countdown(recorded, retries):
    with pytest.raises(RetryAsked) as asked:
        carry_out(raising(RuntimeError("database is locked")), retries=retries)
    assert asked.value.countdown == step_task.CRASH_RETRY_S * (retries + 1)
    assert recorded == {"sent": [], "failed": []}


def test_a_crash_past_the_retries_fails_the_run(recorded, engine):
    with pytest.raises(RunEnded):
        carry_out(raising(RuntimeError("boom")), retries=step_task.CRASH_RETRIES)
    assert stored(engine).error == "internal error: RuntimeError('boom')"
    [(run_id, fail)] = recorded["failed"]
    assert run_id == "run_1"
    assert fail.reason == "internal error: RuntimeError('boom')"


# Flower that tells the truth (issue 11): a step that ended its run is a FAILURE task.


def test_an_error_for_a_run_that_already_ended_is_not_a_failure_task(recorded, engine):
    with pytest.raises(RunEnded):
        carry_out(raising(ProviderRejected("bad model")))
    # A second failure of the same (now terminal) run records nothing and returns normally.
    assert carry_out(raising(ProviderRejected("again"))).startswith("failed:")
    assert stored(engine).error == "ProviderRejected: bad model"


def test_a_step_that_ended_its_run_failed_raises_run_ended_with_the_reason(recorded):
    step = Nothing("server_error: boom", ended=RunStatus.FAILED)
    with pytest.raises(RunEnded, match="run run_1 failed: server_error: boom"):
        carry_out(lambda: step)
    assert recorded["sent"] == [step]


def test_a_completed_or_stale_step_returns_normally(recorded):
    assert carry_out(lambda: Nothing("completed")) == "Nothing"


def test_run_ended_is_an_expected_failure_never_retried():
    assert RunEnded in poll.throws
    assert not RunEnded.retryable


def test_task_names_shown_in_flower_carry_the_run_id():
    assert task_label(StepName.POLL.value, ("run_1", 3)) == "runq.runs.poll run_1"
    assert poll.shadow_name(("run_1", 3), {}, {}) == "runq.runs.poll run_1"
