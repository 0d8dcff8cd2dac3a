"""Pure delay schedules: how long to wait before the next poll or retry.

No clock, no randomness of its own: jitter comes in as a number in [0, 1).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Schedule:
    """A delay that starts at `first_s` and grows by `factor` per step up to `cap_s`."""

    first_s: float
    factor: float
    cap_s: float


def grow_delay_s(step: int, schedule: Schedule) -> float:
    """Delay before step `step` (0-based): first_s * factor**step, capped."""
    if step <= 0:
        return min(schedule.first_s, schedule.cap_s)
    # Cap the exponent's effect before it overflows: after ~60 steps every schedule is capped.
    grown = schedule.first_s * schedule.factor ** min(step, 60)
    return min(grown, schedule.cap_s)


def stretch_s(delay_s: float, jitter: float, spread: float = 0.1) -> float:
    """`delay_s` lengthened by up to `spread` using `jitter` in [0, 1), so retries don't march
    in step. Never shortened: waking before the wait is over only earns another wait."""
    return max(0.0, delay_s * (1.0 + spread * jitter))
