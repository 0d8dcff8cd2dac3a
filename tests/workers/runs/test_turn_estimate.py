"""The poll plan from recent turn durations: a table, no fixtures."""

from __future__ import annotations

import pytest

from workers.backoff import Schedule
from workers.runs.turn_estimate import planned_polls_s, poll_delay_s, quantile

LADDER = Schedule(first_s=0.5, factor=1.5, cap_s=5.0)
SPREAD = [1.5, 1.75, 2.0, 2.25, 2.5]  # 2.0 s ± 25 %


@pytest.mark.parametrize(
    ("samples", "q", "expected"),
    [
        ([2.0], 0.5, 2.0),
        ([1.0, 3.0], 0.5, 2.0),
        ([1.5, 1.75, 2.0, 2.25, 2.5], 0.9, 2.4),
        ([1.5, 1.75, 2.0, 2.25, 2.5], 1.0, 2.5),
        ([1.5, 1.75, 2.0, 2.25, 2.5], 0.0, 1.5),
    ],
)
def test_quantile(samples: list[float], q: float, expected: float) -> None:
    assert quantile(samples, q) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("recent", "expected"),
    [
        pytest.param([], (), id="no-history"),
        pytest.param([2.0] * 4, (), id="too-little-history"),
        pytest.param(SPREAD, (2.4, 2.625), id="p90-then-past-slowest"),
        pytest.param(list(reversed(SPREAD)), (2.4, 2.625), id="order-does-not-matter"),
        pytest.param([2.0] * 5, (2.0, 2.1), id="identical-turns-collapse-close-marks"),
        pytest.param([0.0] * 5, (0.0,), id="instant-turns"),
        pytest.param([-1.0, 0, 0, 0, 0], (0.0,), id="clock-skew-is-not-negative-time"),
    ],
)
def test_planned_polls(recent: list[float], expected: tuple[float, ...]) -> None:
    assert planned_polls_s(recent) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("poll_count", "recent", "expected_s"),
    [
        pytest.param(0, [], 0.5, id="no-history-ladder-first"),
        pytest.param(2, [], 1.125, id="no-history-ladder-third"),
        pytest.param(0, SPREAD, 2.4, id="first-poll-at-p90"),
        pytest.param(1, SPREAD, 0.225, id="second-past-slowest"),
        pytest.param(2, SPREAD, 0.5, id="slower-than-all-back-to-ladder"),
        pytest.param(3, SPREAD, 0.75, id="ladder-keeps-growing"),
        pytest.param(0, [0.0] * 5, 0.0, id="instant-turns-first-poll-at-once"),
        pytest.param(1, [0.0] * 5, 0.5, id="instant-turns-then-the-ladder"),
        pytest.param(40, SPREAD, 5.0, id="ladder-capped"),
    ],
)
def test_poll_delay(poll_count: int, recent: list[float], expected_s: float) -> None:
    assert poll_delay_s(poll_count, recent, LADDER) == pytest.approx(expected_s)
