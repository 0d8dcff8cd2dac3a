"""Status over time as a table: (timeline, outcome, cancelled, now) -> status."""

from __future__ import annotations

import pytest

from simulator.lifecycle import (
    Outcome,
    Status,
    Timeline,
    instant_timeline,
    is_terminal,
    outcome_of,
    plan_timeline,
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
