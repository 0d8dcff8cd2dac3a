"""Status over time as a table: (timeline, outcome, cancelled, now) -> status, for responses
and for Assistants runs (which stop at requires_action and expire)."""

from __future__ import annotations

import pytest

from simulator.lifecycle import (
    IDLE_POLL_MS,
    Outcome,
    RunStatus,
    Status,
    Timeline,
    instant_timeline,
    is_run_active,
    is_terminal,
    outcome_of,
    plan_timeline,
    poll_after_ms,
    run_status_at,
    status_at,
)
from simulator.script import Failure, FinalText, Incomplete, ToolCalls, Turn

T0 = 1000.0
ONE_SECOND = plan_timeline(T0, latency_ms=1000)


def test_plan_timeline_queues_for_a_fifth_of_the_latency() -> None:
    assert Timeline(created_s=T0, started_s=T0 + 0.2, finished_s=T0 + 1.0) == ONE_SECOND


def test_slow_directive_extends_only_the_in_progress_phase() -> None:
    assert plan_timeline(T0, 1000, slow_ms=500) == Timeline(T0, T0 + 0.2, T0 + 1.5)


@pytest.mark.parametrize(
    ("timeline", "outcome", "is_cancelled", "now_s", "expected"),
    [
        (ONE_SECOND, "completed", False, T0, "queued"),
        (ONE_SECOND, "completed", False, T0 + 0.19, "queued"),
        (ONE_SECOND, "completed", False, T0 + 0.2, "in_progress"),
        (ONE_SECOND, "completed", False, T0 + 0.99, "in_progress"),
        (ONE_SECOND, "completed", False, T0 + 1.0, "completed"),
        (ONE_SECOND, "failed", False, T0 + 5, "failed"),
        (ONE_SECOND, "incomplete", False, T0 + 5, "incomplete"),
        (ONE_SECOND, "completed", True, T0 + 0.1, "cancelled"),
        (ONE_SECOND, "completed", True, T0 + 5, "cancelled"),
        (instant_timeline(T0), "completed", False, T0, "completed"),
        (plan_timeline(T0, 0), "failed", False, T0, "failed"),
    ],
)
def test_status_at(
    timeline: Timeline, outcome: Outcome, is_cancelled: bool, now_s: float, expected: Status
) -> None:
    assert status_at(timeline, outcome, is_cancelled=is_cancelled, now_s=now_s) == expected


@pytest.mark.parametrize(
    ("turn", "outcome"),
    [
        (FinalText("hi"), "completed"),
        (ToolCalls((("get_weather", "{}"),)), "completed"),
        (Failure("server_error", "boom"), "failed"),
        (Incomplete("max_output_tokens"), "incomplete"),
    ],
)
def test_outcome_of(turn: Turn, outcome: Outcome) -> None:
    assert outcome_of(turn) == outcome


@pytest.mark.parametrize(
    ("status", "terminal"),
    [
        ("queued", False),
        ("in_progress", False),
        ("completed", True),
        ("failed", True),
        ("incomplete", True),
        ("cancelled", True),
    ],
)
def test_is_terminal(status: Status, terminal: bool) -> None:
    assert is_terminal(status) is terminal


CALLS = ToolCalls((("get_weather", "{}"),))
EXPIRES_S = T0 + 600


@pytest.mark.parametrize(
    ("turn", "now_s", "expected"),
    [
        (FinalText("hi"), T0, "queued"),
        (FinalText("hi"), T0 + 0.5, "in_progress"),
        (FinalText("hi"), T0 + 1, "completed"),
        (CALLS, T0 + 1, "requires_action"),
        (CALLS, EXPIRES_S - 0.001, "requires_action"),
        (CALLS, EXPIRES_S, "expired"),
        (FinalText("hi"), EXPIRES_S + 5, "completed"),  # finished before the deadline
        (Failure("server_error", "boom"), T0 + 1, "failed"),
        (Incomplete("max_output_tokens"), T0 + 1, "incomplete"),
    ],
)
def test_run_status_at(turn: Turn, now_s: float, expected: RunStatus) -> None:
    assert run_status_at(ONE_SECOND, turn, expires_s=EXPIRES_S, now_s=now_s) == expected


def test_a_turn_still_running_at_the_deadline_expires() -> None:
    slow = plan_timeline(T0, 1000, slow_ms=700_000)
    assert run_status_at(slow, FinalText("hi"), expires_s=EXPIRES_S, now_s=EXPIRES_S) == "expired"


@pytest.mark.parametrize(
    ("status", "active"),
    [("queued", True), ("requires_action", True), ("cancelling", True), ("expired", False)],
)
def test_is_run_active(status: RunStatus, active: bool) -> None:
    assert is_run_active(status) is active


@pytest.mark.parametrize(
    ("now_s", "wait_ms"), [(T0, 200), (T0 + 0.5, 500), (T0 + 0.9999, 1), (T0 + 1, IDLE_POLL_MS)]
)
def test_poll_after_ms_points_at_the_next_change(now_s: float, wait_ms: int) -> None:
    assert poll_after_ms(ONE_SECOND, now_s) == wait_ms
