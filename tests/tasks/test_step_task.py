"""A step that ends its run raises RunEnded (FAILURE in Flower); task names carry the run id."""

import pytest

from tasks.next_step import task_label
from tasks.runs import poll
from workers.db.statuses import RunStatus
from workers.errors import RunEnded
from workers.runs.context import Later, Nothing, StepName


def test_a_step_that_ended_its_run_failed_raises_run_ended_with_the_reason():
    step = Nothing("server_error: boom", ended=RunStatus.FAILED)
    with pytest.raises(RunEnded, match="run run_1 failed: server_error: boom"):
        poll.carry_out("run_1", lambda: step)


def test_a_completed_or_stale_step_returns_normally():
    assert poll.carry_out("run_1", lambda: Nothing("completed")) == "Nothing"


def test_run_ended_is_an_expected_failure_never_retried():
    assert RunEnded in poll.throws
    assert not RunEnded.retryable


def test_task_names_shown_in_flower_carry_the_run_id():
    assert task_label(StepName.POLL.value, ("run_1", 3)) == "runq.runs.poll run_1"
    assert poll.shadow_name(("run_1", 3), {}, {}) == "runq.runs.poll run_1"
    assert Later(StepName.POLL, ("run_1", 3)).args[0] == "run_1"
