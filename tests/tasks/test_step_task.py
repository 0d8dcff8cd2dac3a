"""RunStepTask.carry_out: what a step's outcome turns into (message, drop, retry, failed run).

The Celery task object is the real one; only `send`, `fail_run` and the step context are
replaced, because they reach the broker and the database.
"""

from __future__ import annotations

from typing import Any

import pytest

import tasks.step_task as step_task
from config.settings import get_settings
from tasks.next_step import task_label
from tasks.runs import poll
from workers.db.statuses import RunStatus
from workers.errors import (
    IllegalTransition,
    ProviderRejected,
    RunEnded,
    RunNotFound,
    UnknownAgent,
)
from workers.runs.context import Later, Nothing, StepName
from workers.runs.state import Fail

EVENTS: list[str] = []
"""What carry_out did, in order: "due" (next due time recorded), "send"."""


class RetryAsked(Exception):
    def __init__(self, countdown: float) -> None:
        self.countdown = countdown


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    seen: dict[str, list[Any]] = {"sent": [], "failed": []}
    EVENTS.clear()

    def send(step: Any) -> None:
        EVENTS.append("send")
        seen["sent"].append(step)

    monkeypatch.setattr(step_task, "send", send)
    monkeypatch.setattr(step_task, "record_next_due", lambda ctx, step: EVENTS.append("due"))
    monkeypatch.setattr(
        step_task, "fail_run", lambda ctx, run_id, step: seen["failed"].append((run_id, step))
    )
    monkeypatch.setattr(step_task, "get_step_context", lambda: None)
    monkeypatch.setattr(poll, "retry", lambda exc, countdown, **_: RetryAsked(countdown))
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
    assert EVENTS == ["due", "send"]  # if the send never happens, the sweep re-sends


def test_a_step_whose_agent_this_worker_lacks_is_handed_back(recorded):
    with pytest.raises(RetryAsked):
        carry_out(raising(UnknownAgent("unknown agent 'x'")), retries=0)
    assert recorded == {"sent": [], "failed": []}


def test_a_step_handed_back_too_often_fails_the_run_with_the_reason(recorded):
    limit = get_settings().runs.agent_missing_retries
    assert carry_out(raising(UnknownAgent("unknown agent 'x'")), retries=limit).startswith(
        "failed:"
    )
    [(run_id, failure)] = recorded["failed"]
    assert run_id == "run_1"
    assert failure.reason.startswith(f"no worker that took this run has its agent ({limit + 1}")


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


# Flower that tells the truth (issue 11): a step that ended its run is a FAILURE task.


def test_a_runq_error_that_ends_the_run_raises_run_ended(recorded, monkeypatch):
    monkeypatch.setattr(step_task, "fail_run", lambda ctx, run_id, step: True)
    with pytest.raises(RunEnded, match="run run_1 failed: ProviderRejected: bad model"):
        carry_out(raising(ProviderRejected("bad model")))


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
