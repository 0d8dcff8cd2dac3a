"""The tool task that records a turn's last output submits the turn itself (no submit
message), and falls back to the submit message when the inline submit crashes or this
worker lacks the agent. `send` and `record_next_due` are replaced (they reach the broker);
the step itself is replaced by a recorder, since the submit step has its own tests."""

from __future__ import annotations

from typing import Any

import pytest

import tasks.step_task as step_task
import tasks.tools as tool_task
from workers.errors import UnknownAgent
from workers.runs.context import Later, Nothing, StepName

RUN_ID = "run_1"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    messages: list[Any] = []
    monkeypatch.setattr(step_task, "send", messages.append)
    monkeypatch.setattr(tool_task, "send", messages.append)
    monkeypatch.setattr(step_task, "record_next_due", lambda ctx, step, max_s: False)
    monkeypatch.setattr(tool_task, "get_step_context", lambda: None)
    return messages


def submitting(monkeypatch: pytest.MonkeyPatch, outcome: Any) -> list[tuple[str, int]]:
    """Make the submit step return (or raise) `outcome`; returns the calls it saw."""
    calls: list[tuple[str, int]] = []

    def submit_outputs(ctx: Any, run_id: str, turn: int, *, quick_only: bool) -> Any:
        assert quick_only, "a tool slot must not wait out a synchronous turn"
        calls.append((run_id, turn))
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(tool_task.steps, "submit_outputs", submit_outputs)
    return calls


def test_the_turn_is_submitted_here_and_its_poll_sent(monkeypatch, sent):
    poll = Later(StepName.POLL, (RUN_ID, 4), 1.8)
    calls = submitting(monkeypatch, poll)
    assert tool_task.submit_turn(RUN_ID, 2) == "Later"
    assert calls == [(RUN_ID, 2)]
    assert sent == [poll], "no submit message: only the poll the submit asked for"


def test_a_crashed_inline_submit_is_sent_as_a_message(monkeypatch, sent):
    submitting(monkeypatch, RuntimeError("database is locked"))
    outcome = tool_task.submit_turn(RUN_ID, 2)
    assert outcome.startswith("submit sent:") and "database is locked" in outcome
    assert sent == [Later(StepName.SUBMIT, (RUN_ID, 2), after_s=step_task.CRASH_RETRY_S)]


def test_a_worker_without_the_agent_sends_the_submit_for_another(monkeypatch, sent):
    submitting(monkeypatch, UnknownAgent("unknown agent 'x'"))
    assert tool_task.submit_turn(RUN_ID, 1).startswith("submit sent:")
    assert sent == [Later(StepName.SUBMIT, (RUN_ID, 1), after_s=step_task.CRASH_RETRY_S)]


def test_a_stale_submit_sends_nothing(monkeypatch, sent):
    submitting(monkeypatch, Nothing("stale submit for turn 1"))
    assert tool_task.submit_turn(RUN_ID, 1) == "Nothing"
    assert not [step for step in sent if not isinstance(step, Nothing)]  # Nothing sends none
