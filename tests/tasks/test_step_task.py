"""RunStepTask.carry_out: what a step's outcome turns into (message, drop, retry, failed run).

The Celery task object is the real one; only `send`, `fail_run` and the step context are
replaced, because they reach the broker and the database.
"""

from __future__ import annotations

from typing import Any

import pytest

import tasks.step_task as step_task
from tasks.runs import poll
from workers.errors import IllegalTransition, ProviderRejected, RunNotFound
from workers.runs.context import Later, StepName
from workers.runs.state import Fail


class RetryAsked(Exception):
    def __init__(self, countdown: float) -> None:
        self.countdown = countdown


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    seen: dict[str, list[Any]] = {"sent": [], "failed": []}
    monkeypatch.setattr(step_task, "send", seen["sent"].append)
    monkeypatch.setattr(
        step_task, "fail_run", lambda ctx, run_id, step: seen["failed"].append((run_id, step))
    )
    monkeypatch.setattr(step_task, "get_step_context", lambda: None)
    monkeypatch.setattr(poll, "retry", lambda exc, countdown: RetryAsked(countdown))
    return seen


def carry_out(step: Any, retries: int = 0) -> str:
    poll.push_request(retries=retries)
    try:
        return poll.carry_out("run_1", step)
    finally:
        poll.pop_request()


def raising(exc: Exception) -> Any:
    def step() -> Any:
        raise exc

    return step


def test_the_next_step_is_sent(recorded):
    following = Later(StepName.POLL, ("run_1", 3), 1.5)
    assert carry_out(lambda: following) == "Later"
    assert recorded["sent"] == [following]
    assert recorded["failed"] == []


@pytest.mark.parametrize("exc", [IllegalTransition("lost the race"), RunNotFound("gone")])
def test_a_duplicate_or_orphan_message_is_dropped(recorded, exc):
    assert carry_out(raising(exc)).startswith("dropped:")
    assert recorded == {"sent": [], "failed": []}


def test_a_runq_error_fails_the_run_with_its_reason(recorded):
    assert carry_out(raising(ProviderRejected("bad model"))).startswith("failed:")
    assert recorded["sent"] == []
    assert recorded["failed"] == [("run_1", Fail("ProviderRejected: bad model"))]


@pytest.mark.parametrize("retries", range(step_task.CRASH_RETRIES))
def test_a_crash_is_retried_with_a_growing_countdown(recorded, retries):
    with pytest.raises(RetryAsked) as asked:
        carry_out(raising(RuntimeError("database is locked")), retries=retries)
    assert asked.value.countdown == step_task.CRASH_RETRY_S * (retries + 1)
    assert recorded == {"sent": [], "failed": []}


def test_a_crash_past_the_retries_fails_the_run(recorded):
    outcome = carry_out(raising(RuntimeError("boom")), retries=step_task.CRASH_RETRIES)
    assert outcome.startswith("failed:")
    [(run_id, fail)] = recorded["failed"]
    assert run_id == "run_1"
    assert fail.reason == "internal error: RuntimeError('boom')"
