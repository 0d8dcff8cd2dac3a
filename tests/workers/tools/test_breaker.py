"""The pure breaker model: tables of (state, now_ms) -> state, then whole stories of calls."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from workers.tools.breaker import (
    CLOSED,
    BreakerPolicy,
    BreakerState,
    allow_call,
    begin_call,
    is_half_open,
    is_open,
    record_failure,
    record_success,
)
from workers.tools.breaker import (
    Admission as A,
)

POLICY = BreakerPolicy(failure_threshold=3, cooldown_ms=1000)
S = BreakerState


@pytest.mark.parametrize(
    ("state", "now_ms", "expected"),
    [
        pytest.param(CLOSED, 0, S(1, 0), id="first-failure-counted"),
        pytest.param(S(1, 0), 10, S(2, 0), id="below-threshold-stays-closed"),
        pytest.param(S(2, 0), 500, S(3, 1500), id="threshold-opens-for-cooldown"),
        pytest.param(S(3, 1500), 600, S(4, 1500), id="while-open-not-extended"),
        pytest.param(S(3, 1500), 1499, S(4, 1500), id="last-open-ms-not-extended"),
        pytest.param(S(3, 1500), 1500, S(4, 2500), id="half-open-failure-reopens"),
        pytest.param(S(9, 1500), 9000, S(10, 10_000), id="late-failure-after-cooldown-reopens"),
        pytest.param(S(1, 0), 10**13, S(2, 0), id="huge-clock-below-threshold"),
    ],
)
def test_record_failure(state: BreakerState, now_ms: int, expected: BreakerState) -> None:
    assert record_failure(state, POLICY, now_ms) == expected


@pytest.mark.parametrize("state", [CLOSED, S(2, 0), S(3, 1500), S(7, 99_999)])
def test_success_resets(state: BreakerState) -> None:
    assert record_success(state) == CLOSED


def test_threshold_of_one_opens_on_first_failure() -> None:
    assert record_failure(CLOSED, BreakerPolicy(1, 50), now_ms=7) == S(1, 57)


@pytest.mark.parametrize(
    ("state", "now_ms", "open_", "half_open", "allowed"),
    [
        pytest.param(CLOSED, 0, False, False, True, id="closed"),
        pytest.param(S(2, 0), 0, False, False, True, id="closed-with-failures"),
        pytest.param(S(3, 1500), 1499, True, False, False, id="open"),
        pytest.param(S(3, 1500), 1500, False, True, True, id="half-open-at-cooldown-end"),
        pytest.param(S(3, 1500), 10**12, False, True, True, id="half-open-long-after"),
    ],
)
def test_phase_predicates(
    state: BreakerState, now_ms: int, open_: bool, half_open: bool, allowed: bool
) -> None:
    assert is_open(state, now_ms) is open_
    assert is_half_open(state, POLICY, now_ms) is half_open
    assert allow_call(state, now_ms) is allowed


@pytest.mark.parametrize(
    ("state", "now_ms", "admitted", "after"),
    [
        pytest.param(CLOSED, 0, A.ADMITTED_CLEAN, CLOSED, id="closed-admits-without-writing"),
        pytest.param(S(2, 0), 5, A.ADMITTED, S(2, 0), id="below-threshold-admits"),
        pytest.param(S(3, 1500), 1000, A.REFUSED, S(3, 1500), id="open-refuses"),
        pytest.param(S(3, 1500), 1500, A.ADMITTED, S(3, 2500), id="half-open-trial-takes-lease"),
        pytest.param(S(3, 2500), 1501, A.REFUSED, S(3, 2500), id="lease-refuses-others"),
    ],
)
def test_begin_call(state: BreakerState, now_ms: int, admitted: A, after: BreakerState) -> None:
    assert begin_call(state, POLICY, now_ms) == (admitted, after)


@dataclass(frozen=True)
class Allow:
    now_ms: int
    admitted: bool


@dataclass(frozen=True)
class Fail:
    now_ms: int


@dataclass(frozen=True)
class Succeed:
    pass


STORIES = {
    "three-failures-open-then-cooldown-admits-one-trial": (
        [Fail(0), Fail(1), Allow(2, True), Fail(2), Allow(3, False), Allow(1001, False),
         Allow(1002, True), Allow(1002, False), Allow(2001, False)],
        S(3, 2002),
    ),
    "trial-success-closes": (
        [Fail(0), Fail(0), Fail(0), Allow(1000, True), Succeed(), Allow(1000, True),
         Allow(1000, True)],
        CLOSED,
    ),
    "trial-failure-reopens-for-another-cooldown": (
        [Fail(0), Fail(0), Fail(0), Allow(1000, True), Fail(1200), Allow(1999, False),
         Allow(2000, True)],
        S(4, 3000),
    ),
    "lost-trial-lease-runs-out": (
        [Fail(0), Fail(0), Fail(0), Allow(1000, True), Allow(1999, False), Allow(2000, True)],
        S(3, 3000),
    ),
    "success-between-failures-resets-count": (
        [Fail(0), Fail(0), Succeed(), Fail(0), Fail(0), Allow(0, True)],
        S(2, 0),
    ),
    "failures-while-open-do-not-extend": (
        [Fail(0), Fail(0), Fail(0), Fail(500), Fail(999), Allow(999, False), Allow(1000, True)],
        S(5, 2000),
    ),
}  # fmt: skip


@pytest.mark.parametrize(("ops", "final"), STORIES.values(), ids=STORIES.keys())
def test_stories(ops: list[Allow | Fail | Succeed], final: BreakerState) -> None:
    state = CLOSED
    for op in ops:
        match op:
            case Allow(now_ms, expected):
                admitted, state = begin_call(state, POLICY, now_ms)
                assert bool(admitted) is expected, op
            case Fail(now_ms):
                state = record_failure(state, POLICY, now_ms)
            case Succeed():
                state = record_success(state)
    assert state == final


@pytest.mark.parametrize(("threshold", "cooldown_ms"), [(0, 1000), (-1, 1000), (3, 0), (3, -5)])
def test_policy_rejects_nonsense(threshold: int, cooldown_ms: int) -> None:
    with pytest.raises(ValueError):
        BreakerPolicy(failure_threshold=threshold, cooldown_ms=cooldown_ms)


def test_default_policy() -> None:
    assert BreakerPolicy() == BreakerPolicy(failure_threshold=5, cooldown_ms=30_000)
